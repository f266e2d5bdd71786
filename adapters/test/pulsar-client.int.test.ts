// The WebSocket MessageBus against the real broker: round trip, ordering, backpressure,
// acknowledgement semantics, readers, broker-side deduplication and typed errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type MessageBus,
  PulsarAuthenticationError,
  PulsarConnectionError,
  PulsarMessageTooLargeError,
  PulsarNotFoundError,
  PulsarProducerQueueFullError,
  PulsarTimeoutError,
  SubscriptionType,
  WebSocketMessageBus,
} from "../src/pulsar/index.ts";
import { broker, busAs, freshTopic, str, text } from "./pulsar-support.ts";

let bus: MessageBus;
beforeAll(async () => {
  bus = await busAs("admin");
});
afterAll(async () => {
  await bus.close();
});

describe("WebSocketMessageBus round trip", () => {
  it("delivers messages in order with payload, properties, key and event time", async () => {
    const topic = await freshTopic("roundtrip");
    const consumer = await bus.subscribe(topic, "sub", { initialPosition: "Earliest" });
    const producer = await bus.createProducer(topic);
    const eventTime = Date.now() - 5;

    const receipts = await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        producer.send({ payload: text(`m${i}`), properties: { i: String(i) }, key: `k${i % 3}`, eventTime }),
      ),
    );

    expect(receipts.map((r) => r.duplicate)).not.toContain(true);
    expect(new Set(receipts.map((r) => r.messageId)).size).toBe(200);
    for (let i = 0; i < 200; i++) {
      const m = await consumer.receive(10_000);
      expect(str(m.payload)).toBe(`m${i}`);
      expect(m.properties).toEqual({ i: String(i) });
      expect(m.key).toBe(`k${i % 3}`);
      expect(m.eventTime).toBe(eventTime);
      expect(m.messageId).toBe(receipts[i]?.messageId);
      expect(m.redeliveryCount).toBe(0);
      await consumer.ack(m);
    }
  });

  it("carries any bytes, empty properties and keys or properties that need JSON escaping", async () => {
    const topic = await freshTopic("encoding");
    const consumer = await bus.subscribe(topic, "sub", { initialPosition: "Earliest" });
    const producer = await bus.createProducer(topic);
    // Every base64 padding case (length mod 3), every byte value, and an empty payload.
    const payloads = [0, 1, 2, 3, 4, 5, 256, 1024, 1025].map((n) =>
      Uint8Array.from({ length: n }, (_, i) => (i * 97 + n) & 0xff),
    );
    const awkward = 'quote " backslash \\ newline \n unicode ✓ 😀 </script>';
    for (const payload of payloads) await producer.send({ payload, properties: {} });
    await producer.send({ payload: text("escaped"), key: awkward, properties: { [awkward]: awkward } });

    for (const payload of payloads) {
      const m = await consumer.receive(10_000);
      expect(m.payload).toEqual(payload);
      expect(m.payload.byteOffset).toBe(0);
      expect(m.payload.buffer.byteLength).toBe(payload.length); // its own buffer, not a shared pool
      expect(m.properties).toEqual({});
      await consumer.ack(m);
    }
    const m = await consumer.receive(10_000);
    expect(m.key).toBe(awkward);
    expect(m.properties).toEqual({ [awkward]: awkward });
    await consumer.ack(m);
  });

  it("rejects a send with an invalid event time instead of throwing", async () => {
    const topic = await freshTopic("eventtime");
    const producer = await bus.createProducer(topic);
    const send = producer.send({ payload: text("x"), eventTime: Number.NaN });
    await expect(send).rejects.toBeInstanceOf(RangeError);
    expect(producer.pending).toBe(0);
  });

  it("bounds the sends in flight (client-side backpressure)", async () => {
    const topic = await freshTopic("backpressure");
    const producer = await bus.createProducer(topic, { maxPendingMessages: 4 });
    let maxSeen = 0;
    const sends = Array.from({ length: 100 }, (_, i) => {
      const p = producer.send({ payload: text(`b${i}`) });
      maxSeen = Math.max(maxSeen, producer.pending);
      return p;
    });
    const poll = setInterval(() => {
      maxSeen = Math.max(maxSeen, producer.pending);
    }, 1);
    await Promise.all(sends);
    clearInterval(poll);

    expect(maxSeen).toBeLessThanOrEqual(4);
    expect(maxSeen).toBeGreaterThan(0);
    await producer.flush();
    expect(producer.pending).toBe(0);
  });

  it("fails fast instead of waiting when asked not to block on a full window", async () => {
    const topic = await freshTopic("nonblocking");
    const producer = await bus.createProducer(topic, { maxPendingMessages: 1, blockIfQueueFull: false });
    const first = producer.send({ payload: text("in flight") });
    await expect(producer.send({ payload: text("one too many") })).rejects.toBeInstanceOf(
      PulsarProducerQueueFullError,
    );
    await first;
    await expect(producer.send({ payload: text("room again") })).resolves.toMatchObject({ duplicate: false });
  });

  it("rejects a payload larger than a WebSocket frame can carry, before sending", async () => {
    const topic = await freshTopic("toolarge");
    const producer = await bus.createProducer(topic);
    await expect(producer.send({ payload: new Uint8Array(900 * 1024) })).rejects.toBeInstanceOf(
      PulsarMessageTooLargeError,
    );
  });
});

describe("consumer acknowledgements", () => {
  it("redelivers a negatively acknowledged message with a higher redelivery count", async () => {
    const topic = await freshTopic("nack");
    const consumer = await bus.subscribe(topic, "sub", {
      subscriptionType: SubscriptionType.Shared,
      negativeAckRedeliveryDelayMs: 100,
    });
    const producer = await bus.createProducer(topic);
    await producer.send({ payload: text("retry me") });

    const first = await consumer.receive(10_000);
    await consumer.nack(first);
    const again = await consumer.receive(10_000);

    expect(again.messageId).toBe(first.messageId);
    expect(again.redeliveryCount).toBe(1);
    await consumer.ack(again);
  });

  it("moves a message to the dead-letter topic after maxRedeliverCount", async () => {
    const topic = await freshTopic("poison");
    const dlq = `${topic}-sub-DLQ`;
    await broker().admin.createTopic(dlq);
    const dead = await bus.subscribe(dlq, "audit", { initialPosition: "Earliest" });
    const consumer = await bus.subscribe(topic, "sub", {
      subscriptionType: SubscriptionType.Shared,
      negativeAckRedeliveryDelayMs: 50,
      maxRedeliverCount: 2,
      deadLetterTopic: dlq,
    });
    const producer = await bus.createProducer(topic);
    await producer.send({ payload: text("poison"), properties: { kind: "poison" } });

    for (let attempt = 0; attempt <= 2; attempt++) {
      const m = await consumer.receive(10_000);
      expect(m.redeliveryCount).toBe(attempt);
      await consumer.nack(m);
    }

    const deadLettered = await dead.receive(15_000);
    expect(str(deadLettered.payload)).toBe("poison");
    expect(deadLettered.properties.kind).toBe("poison");
    await expect(consumer.receive(500)).rejects.toBeInstanceOf(PulsarTimeoutError);
  });

  it("does not redeliver acknowledged messages to a new consumer of the subscription", async () => {
    const topic = await freshTopic("resume");
    const producer = await bus.createProducer(topic);
    const first = await bus.subscribe(topic, "sub", { initialPosition: "Earliest" });
    for (let i = 0; i < 10; i++) await producer.send({ payload: text(`r${i}`) });
    for (let i = 0; i < 5; i++) await first.ack(await first.receive(10_000));
    await first.close();

    const second = await bus.subscribe(topic, "sub", { initialPosition: "Earliest" });
    const got: string[] = [];
    for (let i = 5; i < 10; i++) {
      const m = await second.receive(10_000);
      got.push(str(m.payload));
      await second.ack(m);
    }
    expect(got).toEqual(["r5", "r6", "r7", "r8", "r9"]);
  });
});

describe("readers", () => {
  it("reads from the earliest message and from after a given message id", async () => {
    const topic = await freshTopic("reader");
    const producer = await bus.createProducer(topic);
    const receipts = [];
    for (let i = 0; i < 5; i++) receipts.push(await producer.send({ payload: text(`x${i}`) }));

    const fromStart = await bus.createReader(topic, { startMessageId: "earliest" });
    const all = [];
    for (let i = 0; i < 5; i++) all.push(str((await fromStart.readNext(10_000)).payload));
    expect(all).toEqual(["x0", "x1", "x2", "x3", "x4"]);

    const fromId = await bus.createReader(topic, { startMessageId: receipts[2]?.messageId });
    expect(str((await fromId.readNext(10_000)).payload)).toBe("x3");
  });
});

describe("broker-side deduplication", () => {
  it("drops a re-sent message with the same producer name and sequence id", async () => {
    const topic = await freshTopic("dedup");
    const consumer = await bus.subscribe(topic, "sub", { initialPosition: "Earliest" });
    const first = await bus.createProducer(topic, { producerName: "dedup-test", initialSequenceId: 1000 });
    const a = await first.send({ payload: text("one") });
    const b = await first.send({ payload: text("two") });
    await first.close();

    // The same producer re-sends both (e.g. after a crash before it saw the acks), then a new one.
    const again = await bus.createProducer(topic, { producerName: "dedup-test", initialSequenceId: 1000 });
    const a2 = await again.send({ payload: text("one") });
    const b2 = await again.send({ payload: text("two") });
    const c = await again.send({ payload: text("three") });

    expect([a.sequenceId, b.sequenceId, c.sequenceId]).toEqual([1001, 1002, 1003]);
    expect([a.duplicate, b.duplicate, a2.duplicate, b2.duplicate, c.duplicate]).toEqual([
      false,
      false,
      true,
      true,
      false,
    ]);
    const got = [];
    for (let i = 0; i < 3; i++) got.push(str((await consumer.receive(10_000)).payload));
    expect(got).toEqual(["one", "two", "three"]);
    await expect(consumer.receive(500)).rejects.toBeInstanceOf(PulsarTimeoutError);
  });
});

describe("typed errors", () => {
  it("refuses a topic that was not provisioned (auto-creation is off)", async () => {
    await expect(
      bus.createProducer(`persistent://public/default/never-created-${Date.now()}`),
    ).rejects.toBeInstanceOf(PulsarNotFoundError);
  });

  it("refuses an unauthenticated client", async () => {
    const topic = await freshTopic("anon");
    const anonymous = await busAs("anonymous");
    await expect(anonymous.createProducer(topic)).rejects.toBeInstanceOf(PulsarAuthenticationError);
    await expect(anonymous.subscribe(topic, "sub")).rejects.toBeInstanceOf(PulsarAuthenticationError);
    await anonymous.close();
  });
});

describe("TLS", () => {
  it("round-trips over wss:// when the broker's certificate is trusted, and refuses it otherwise", async () => {
    const { webUrlTls, tlsCa, adminToken } = broker();
    const topic = await freshTopic("tls");
    const secure = new WebSocketMessageBus({ url: webUrlTls, token: adminToken, tls: { ca: tlsCa } });
    expect(secure.wsBase.startsWith("wss://")).toBe(true);
    const consumer = await secure.subscribe(topic, "sub");
    await (await secure.createProducer(topic)).send({ payload: text("sealed") });
    expect(str((await consumer.receive(10_000)).payload)).toBe("sealed");
    await secure.close();

    const untrusting = new WebSocketMessageBus({ url: webUrlTls, token: adminToken });
    await expect(untrusting.createProducer(topic)).rejects.toBeInstanceOf(PulsarConnectionError);
  });
});
