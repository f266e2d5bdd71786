// Client-side batching (batching.ts) against the real broker: one entry for many messages,
// per-message acknowledgement of a batch entry, redelivery that skips what was acknowledged,
// readers that start inside an entry, and batches that do not decode.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BATCH_PROPERTY,
  batchPosition,
  type MessageBus,
  PulsarTimeoutError,
  type ReceivedMessage,
} from "../src/pulsar/index.ts";
import { busAs, freshTopic, str, text } from "./pulsar-support.ts";

let bus: MessageBus;
beforeAll(async () => {
  bus = await busAs("admin");
});
afterAll(async () => {
  await bus.close();
});

async function drain(
  next: (ms: number) => Promise<ReceivedMessage>,
  quietMs = 1_500,
): Promise<ReceivedMessage[]> {
  const out: ReceivedMessage[] = [];
  for (;;) {
    try {
      out.push(await next(quietMs));
    } catch (error) {
      if (error instanceof PulsarTimeoutError) return out;
      throw error;
    }
  }
}

describe("a batching producer", () => {
  it("packs the sends of one tick into few entries; every message arrives once, in order, whole", async () => {
    const topic = await freshTopic("batch-roundtrip");
    const consumer = await bus.subscribe(topic, "sub", { initialPosition: "Earliest" });
    const producer = await bus.createProducer(topic, { batching: { maxMessages: 100 } });
    const eventTime = Date.now() - 5;
    const receipts = await Promise.all(
      Array.from({ length: 500 }, (_, i) =>
        producer.send({ payload: text(`m${i}`), properties: { i: String(i) }, key: "k", eventTime }),
      ),
    );
    const entries = new Set(receipts.map((r) => r.sequenceId));
    expect(entries.size).toBeGreaterThanOrEqual(5); // 100 at most per entry
    expect(entries.size).toBeLessThan(50);
    expect(new Set(receipts.map((r) => r.messageId)).size).toBe(500);
    for (let i = 0; i < 500; i++) {
      const m = await consumer.receive(10_000);
      expect(str(m.payload)).toBe(`m${i}`);
      expect(m.properties).toEqual({ i: String(i) });
      expect(m.key).toBe("k");
      expect(m.eventTime).toBe(eventTime);
      expect(m.messageId).toBe(receipts[i]?.messageId);
      await consumer.ack(m);
    }
    await consumer.close();
    // Everything was acknowledged, entry by entry: the subscription has nothing left.
    const again = await bus.subscribe(topic, "sub", { initialPosition: "Earliest" });
    await expect(again.receive(1_500)).rejects.toBeInstanceOf(PulsarTimeoutError);
    await again.close();
    await producer.close();
  });

  it("redelivers a nacked message of an entry without the ones already acknowledged", async () => {
    const topic = await freshTopic("batch-nack");
    const consumer = await bus.subscribe(topic, "sub", {
      initialPosition: "Earliest",
      subscriptionType: "Shared",
      negativeAckRedeliveryDelayMs: 100,
    });
    const producer = await bus.createProducer(topic, { batching: true });
    await Promise.all(["a", "b", "c"].map((s) => producer.send({ payload: text(s) })));
    const [a, b, c] = [
      await consumer.receive(10_000),
      await consumer.receive(10_000),
      await consumer.receive(10_000),
    ];
    expect([a, b, c].map((m) => str(m.payload))).toEqual(["a", "b", "c"]);
    expect(batchPosition(b.messageId)).toMatchObject({ index: 1, size: 3 });
    await consumer.ack(a);
    await consumer.nack(b);
    await consumer.ack(c);
    const redelivered = await consumer.receive(10_000);
    expect(str(redelivered.payload)).toBe("b");
    expect(redelivered.messageId).toBe(b.messageId);
    expect(redelivered.redeliveryCount).toBeGreaterThan(0);
    await consumer.ack(redelivered);
    expect(await drain((ms) => consumer.receive(ms))).toEqual([]);
    await consumer.close();
    await producer.close();
  });

  it("leaves a partly acknowledged entry to be delivered again to the next consumer (at least once)", async () => {
    const topic = await freshTopic("batch-partial");
    const producer = await bus.createProducer(topic, { batching: true });
    await Promise.all(["a", "b"].map((s) => producer.send({ payload: text(s) })));
    const first = await bus.subscribe(topic, "sub", { initialPosition: "Earliest" });
    await first.ack(await first.receive(10_000)); // a acknowledged, b never
    await first.close();
    const second = await bus.subscribe(topic, "sub", { initialPosition: "Earliest" });
    const got = await drain((ms) => second.receive(ms));
    expect(got.map((m) => str(m.payload))).toEqual(["a", "b"]);
    for (const m of got) await second.ack(m);
    await second.close();
    const third = await bus.subscribe(topic, "sub", { initialPosition: "Earliest" });
    await expect(third.receive(1_500)).rejects.toBeInstanceOf(PulsarTimeoutError);
    await third.close();
    await producer.close();
  });
});

describe("a reader over batch entries", () => {
  it("starts after any message of an entry, the first entry of the topic included", async () => {
    const topic = await freshTopic("batch-reader");
    const batched = await bus.createProducer(topic, { batching: true });
    const plain = await bus.createProducer(topic);
    const ids = (await Promise.all(["a", "b", "c"].map((s) => batched.send({ payload: text(s) })))).map(
      (r) => r.messageId,
    );
    ids.push((await plain.send({ payload: text("d") })).messageId);
    ids.push(
      ...(await Promise.all(["e", "f"].map((s) => batched.send({ payload: text(s) })))).map(
        (r) => r.messageId,
      ),
    );
    const all = ["a", "b", "c", "d", "e", "f"];
    const readFrom = async (start: string) => {
      const reader = await bus.createReader(topic, { startMessageId: start });
      const got = await drain((ms) => reader.readNext(ms));
      await reader.close();
      return got.map((m) => str(m.payload));
    };
    expect(await readFrom("earliest")).toEqual(all);
    for (let i = 0; i < ids.length; i++) expect(await readFrom(ids[i] as string)).toEqual(all.slice(i + 1));
    await batched.close();
    await plain.close();
  });

  it("hands out an entry marked as a batch that does not decode as it came", async () => {
    const topic = await freshTopic("batch-garbage");
    const plain = await bus.createProducer(topic);
    await plain.send({ payload: text("not a batch"), properties: { [BATCH_PROPERTY]: "1" } });
    const reader = await bus.createReader(topic, { startMessageId: "earliest" });
    const m = await reader.readNext(10_000);
    expect(str(m.payload)).toBe("not a batch");
    expect(m.properties[BATCH_PROPERTY]).toBe("1");
    await reader.close();
    await plain.close();
  });
});
