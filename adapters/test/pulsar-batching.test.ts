// The batch codec and batch message ids (batching.ts), without a broker.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  BATCH_PROPERTY,
  batchPosition,
  compareMessageIds,
  decodeBatch,
  decodeMessageId,
  encodeBatch,
  type OutgoingMessage,
  type ReceivedMessage,
  unpackBatch,
} from "../src/pulsar/index.ts";

const message = fc.record(
  {
    payload: fc.uint8Array({ maxLength: 300 }),
    properties: fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 12 }), { maxKeys: 3 }),
    key: fc.string({ maxLength: 10 }),
    eventTime: fc.integer({ min: 1, max: 2 ** 45 }),
  },
  { requiredKeys: ["payload"] },
);

/** A broker id as the WebSocket API shows it: ledger, entry, partition −1, batch index −1, size 0. */
function brokerId(ledger: number, entry: number): string {
  const varint = (v: bigint) => {
    const out: number[] = [];
    let x = v & ((1n << 64n) - 1n);
    while (x >= 0x80n) {
      out.push(Number(x & 0x7fn) | 0x80);
      x >>= 7n;
    }
    out.push(Number(x));
    return out;
  };
  return Buffer.from([
    0x08,
    ...varint(BigInt(ledger)),
    0x10,
    ...varint(BigInt(entry)),
    0x18,
    ...varint(-1n),
    0x20,
    ...varint(-1n),
    0x30,
    0,
  ]).toString("base64");
}

describe("batch codec", () => {
  it("decodes what it encodes: payloads, properties, keys and event times", () => {
    fc.assert(
      fc.property(fc.array(message, { minLength: 1, maxLength: 20 }), (messages: OutgoingMessage[]) => {
        const decoded = decodeBatch(encodeBatch(messages));
        expect(decoded).toBeDefined();
        expect(decoded).toHaveLength(messages.length);
        messages.forEach((m, i) => {
          const d = decoded?.[i];
          expect(Buffer.from(d?.payload ?? []).equals(Buffer.from(m.payload))).toBe(true);
          expect(d?.properties).toEqual(m.properties ?? {});
          expect(d?.key).toBe(m.key);
          expect(d?.eventTime).toBe(m.eventTime);
        });
      }),
    );
  });

  it("refuses truncated, padded, empty and lying batches instead of misreading them", () => {
    const good = encodeBatch([{ payload: new Uint8Array([1, 2, 3]), properties: { seq: "1" } }]);
    expect(decodeBatch(good)).toHaveLength(1);
    for (let cut = 0; cut < good.length; cut++) expect(decodeBatch(good.subarray(0, cut))).toBeUndefined();
    expect(decodeBatch(new Uint8Array([...good, 0]))).toBeUndefined();
    expect(decodeBatch(new Uint8Array([0, 0, 0, 0]))).toBeUndefined();
    const lying = good.slice();
    lying[3] = 200; // says 200 messages
    expect(decodeBatch(lying)).toBeUndefined();
    const badMeta = encodeBatch([{ payload: new Uint8Array(1), properties: { a: "b" } }]);
    badMeta[8] = 0x7b + 1; // the meta JSON no longer parses
    expect(decodeBatch(badMeta)).toBeUndefined();
    // Meta members of the wrong type: properties that are not strings, a negative event time.
    const withMeta = (meta: string) => {
      const m = new TextEncoder().encode(meta);
      const out = new Uint8Array(4 + 4 + m.length + 4);
      const v = new DataView(out.buffer);
      v.setUint32(0, 1);
      v.setUint32(4, m.length);
      out.set(m, 8);
      v.setUint32(8 + m.length, 0);
      return out;
    };
    expect(decodeBatch(withMeta('{"p":{"a":"b"}}'))).toHaveLength(1);
    expect(decodeBatch(withMeta('{"p":{"a":1}}'))).toBeUndefined();
    expect(decodeBatch(withMeta('{"t":-5}'))).toBeUndefined();
    expect(decodeBatch(withMeta('{"k":7}'))).toBeUndefined();
    expect(decodeBatch(withMeta("[1]"))).toBeUndefined();
  });

  it("never throws on arbitrary bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        decodeBatch(bytes);
      }),
    );
  });
});

describe("batch message ids", () => {
  const entry = (ledger: number, entryId: number, messages: OutgoingMessage[]): ReceivedMessage => ({
    topic: "persistent://t/n/x",
    messageId: brokerId(ledger, entryId),
    payload: encodeBatch(messages),
    properties: { [BATCH_PROPERTY]: "1" },
    publishTime: 1,
    redeliveryCount: 0,
  });

  it("gives each message of an entry an id ordered after the entry before and before the next", () => {
    const m = { payload: new Uint8Array([1]) };
    const a = unpackBatch(entry(7, 3, [m, m, m])) ?? [];
    const b = unpackBatch(entry(7, 4, [m])) ?? [];
    expect(a).toHaveLength(3);
    const ids = [brokerId(7, 2), ...a.map((x) => x.messageId), ...b.map((x) => x.messageId)];
    for (let i = 1; i < ids.length; i++)
      expect(compareMessageIds(ids[i - 1] as string, ids[i] as string)).toBe(-1);
    expect(decodeMessageId(a[1]?.messageId as string)).toMatchObject({
      ledgerId: 7n,
      entryId: 3n,
      batchIndex: 1n,
    });
  });

  it("names the entry to re-read from: the one before, down to entry −1 of the ledger", () => {
    const m = { payload: new Uint8Array([1]) };
    const [first] = unpackBatch(entry(9, 0, [m, m])) ?? [];
    const p = batchPosition(first?.messageId as string);
    expect(p).toMatchObject({ index: 0, size: 2 });
    expect(decodeMessageId(p?.entryId as string)).toMatchObject({ ledgerId: 9n, entryId: 0n });
    expect(decodeMessageId(p?.beforeEntryId as string)).toMatchObject({
      ledgerId: 9n,
      entryId: (1n << 64n) - 1n,
    });
    expect(batchPosition(brokerId(9, 0))).toBeUndefined();
    expect(batchPosition("not an id!")).toBeUndefined();
  });
});
