// What a hostile producer can make a consumer or reader of the channel layer hold (issue 16,
// bounded memory), against a fake broker that pushes as fast as it can: entries marked as batches
// of tens of thousands of empty messages, and entries as big as a frame.
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import {
  BatchingProducer,
  decodeBatch,
  MAX_BATCH_MESSAGES,
  type Producer,
  PulsarTimeoutError,
  WebSocketMessageBus,
} from "../src/pulsar/index.ts";

/** A batch entry of `count` empty messages: 4 + 8·count bytes. */
function emptyBatch(count: number): Uint8Array {
  const bytes = new Uint8Array(4 + 8 * count);
  new DataView(bytes.buffer).setUint32(0, count);
  return bytes;
}

/** MessageIdData with ledger 1 and entry `entry`, base64, as the broker sends ids. */
function messageId(entry: number): string {
  const varint = (v: number) => {
    const out: number[] = [];
    while (v >= 0x80) {
      out.push((v & 0x7f) | 0x80);
      v >>>= 7;
    }
    out.push(v);
    return out;
  };
  return Buffer.from([0x08, 1, 0x10, ...varint(entry)]).toString("base64");
}

const servers: WebSocketServer[] = [];
const buses: WebSocketMessageBus[] = [];
afterEach(async () => {
  await Promise.all(buses.splice(0).map((b) => b.close()));
  for (const s of servers.splice(0)) {
    for (const c of s.clients) c.terminate();
    await new Promise((r) => s.close(r));
  }
});

/** A broker whose reader endpoint pushes `frames` at once to whoever connects, ignoring acks. */
async function fakeBroker(
  frames: ReadonlyArray<{ payload: Uint8Array; properties?: Record<string, string> }>,
): Promise<string> {
  const server = new WebSocketServer({ port: 0, host: "127.0.0.1" });
  servers.push(server);
  server.on("connection", (socket) => {
    for (const [i, f] of frames.entries())
      socket.send(
        JSON.stringify({
          messageId: messageId(i + 1),
          payload: Buffer.from(f.payload).toString("base64"),
          properties: f.properties ?? {},
          publishTime: new Date().toISOString(),
        }),
      );
  });
  await new Promise((r) => server.once("listening", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe("a batch claimed by a hostile producer", () => {
  it("is decoded up to MAX_BATCH_MESSAGES messages and refused beyond", () => {
    expect(decodeBatch(emptyBatch(MAX_BATCH_MESSAGES))).toHaveLength(MAX_BATCH_MESSAGES);
    expect(decodeBatch(emptyBatch(MAX_BATCH_MESSAGES + 1))).toBeUndefined();
    expect(decodeBatch(emptyBatch(90_000))).toBeUndefined();
  });

  it("is handed out by a reader as the one entry it is, not as 90,000 messages", async () => {
    const entry = emptyBatch(90_000);
    const url = await fakeBroker([{ payload: entry, properties: { "surplus-batch": "1" } }]);
    const bus = new WebSocketMessageBus({ url });
    buses.push(bus);
    const reader = await bus.createReader("persistent://public/default/flood");
    const m = await reader.readNext(5_000);
    expect(m.payload.byteLength).toBe(entry.byteLength);
    await expect(reader.readNext(300)).rejects.toBeInstanceOf(PulsarTimeoutError);
  });

  it("cannot be built by this client's producer either", () => {
    const inner = {} as Producer;
    expect(
      () => new BatchingProducer(inner, { maxPayloadBytes: 1 << 20, maxMessages: MAX_BATCH_MESSAGES + 1 }),
    ).toThrow(RangeError);
  });
});

describe("entries as big as a frame", () => {
  it("stop a reader from reading its socket past maxBufferedBytes, and nothing is lost", async () => {
    const size = 512 * 1024;
    const count = 64; // 32 MiB in all
    const frames = Array.from({ length: count }, (_, i) => ({ payload: new Uint8Array(size).fill(i) }));
    const url = await fakeBroker(frames);
    const budget = 2 * 2 ** 20;
    const bus = new WebSocketMessageBus({ url, maxBufferedBytes: budget });
    buses.push(bus);
    const reader = await bus.createReader("persistent://public/default/flood");
    const first = await reader.readNext(5_000);
    expect(first.payload[0]).toBe(0);
    await new Promise((r) => setTimeout(r, 1_000)); // the broker has pushed all it could
    const held = (reader as unknown as { bufferedBytes: number }).bufferedBytes;
    // Over the budget by at most the frames the socket had already read when it paused.
    expect(held).toBeGreaterThan(budget / 2);
    expect(held).toBeLessThanOrEqual(budget + 3 * (size + 256));
    // Taking messages reads the socket again: all of them arrive, in order.
    for (let i = 1; i < count; i++) expect((await reader.readNext(5_000)).payload[0]).toBe(i);
    expect((reader as unknown as { bufferedBytes: number }).bufferedBytes).toBe(0);
  });
});

describe("a broker that pushes past the permits", () => {
  it("stops a consumer from reading its socket past maxBufferedBytes, and nothing is lost", async () => {
    const size = 512 * 1024;
    const count = 32;
    const url = await fakeBroker(
      Array.from({ length: count }, (_, i) => ({ payload: new Uint8Array(size).fill(i) })),
    );
    const budget = 2 * 2 ** 20;
    const bus = new WebSocketMessageBus({ url, maxBufferedBytes: budget });
    buses.push(bus);
    const consumer = await bus.subscribe("persistent://public/default/flood", "agent", {
      receiverQueueSize: 1000,
    });
    await new Promise((r) => setTimeout(r, 1_000));
    const held = (consumer as unknown as { bufferedBytes: number }).bufferedBytes;
    expect(held).toBeGreaterThan(budget / 2);
    expect(held).toBeLessThanOrEqual(budget + 3 * (size + 256));
    for (let i = 0; i < count; i++) {
      const m = await consumer.receive(5_000);
      expect(m.payload[0]).toBe(i);
      await consumer.ack(m);
    }
  });
});
