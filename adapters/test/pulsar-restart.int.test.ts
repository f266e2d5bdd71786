// Durability and resumption across a broker restart: acknowledged messages are not delivered
// again, unacknowledged ones are, stored messages survive, and the same producer, consumer and
// reader objects reconnect by themselves. Restarts the shared broker once (~30 s).

import { startPulsar, stopPulsar } from "@surplus/localstack/pulsar";
import { afterAll, describe, expect, it } from "vitest";
import type { BusEvent, MessageBus } from "../src/pulsar/index.ts";
import { busAs, freshTopic, str, text } from "./pulsar-support.ts";

const events: BusEvent[] = [];
let bus: MessageBus | undefined;
afterAll(async () => {
  await bus?.close();
});

describe("a broker restart", () => {
  it("loses no stored message, redelivers no acknowledged one, and clients resume", {
    timeout: 300_000,
  }, async () => {
    bus = await busAs("admin", { onEvent: (e) => events.push(e), reconnectMaxDelayMs: 1_000 });
    const topic = await freshTopic("restart");
    // A restart (graceful stop + start) can take longer than the default 30 s send timeout here.
    const producer = await bus.createProducer(topic, {
      producerName: "restart-producer",
      sendTimeoutMs: 180_000,
    });
    const consumer = await bus.subscribe(topic, "durable", { initialPosition: "Earliest" });
    for (let i = 0; i < 20; i++) await producer.send({ payload: text(`before-${i}`) });
    for (let i = 0; i < 10; i++) {
      const m = await consumer.receive(10_000);
      expect(str(m.payload)).toBe(`before-${i}`);
      await consumer.ack(m);
    }
    // The ack is written to the socket; give the broker a moment to persist the cursor.
    await new Promise((r) => setTimeout(r, 1_500));
    const reader = await bus.createReader(topic, { startMessageId: "earliest" });
    for (let i = 0; i < 3; i++) expect(str((await reader.readNext(10_000)).payload)).toBe(`before-${i}`);

    await stopPulsar({ log: () => {} });
    // Sent while the broker is down: queued in the client, published after it reconnects.
    const whileDown = producer.send({ payload: text("while-down") });
    whileDown.catch(() => {}); // awaited below; keeps a rejection from counting as unhandled meanwhile
    await startPulsar({ log: () => {} });

    const receipt = await whileDown;
    expect(receipt.duplicate).toBe(false);
    await producer.send({ payload: text("after") });

    const rest: string[] = [];
    while (rest.length < 12) {
      const m = await consumer.receive(60_000);
      rest.push(str(m.payload));
      await consumer.ack(m);
    }
    expect(rest).toEqual([
      ...Array.from({ length: 10 }, (_, i) => `before-${i + 10}`),
      "while-down",
      "after",
    ]);
    expect(str((await reader.readNext(60_000)).payload)).toBe("before-3");
    expect(events.some((e) => e.type === "disconnected")).toBe(true);
    expect(events.some((e) => e.type === "connected")).toBe(true);
  });
});
