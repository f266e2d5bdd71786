// Client-side batching: many messages in one broker entry, as Pulsar's native clients batch.
//
// Why: the broker's WebSocket service costs ~125 µs of CPU per message (a text frame decoded,
// JSON and base64 each way, a second binary hop; README "Performance"), whatever its size. A
// high-rate stream that packs the messages sent in one tick into one entry pays that once per
// entry instead of once per message.
//
// Wire format (an entry with the property `surplus-batch` = "1"):
//   u32 count, then per message: u32 metaLength, meta (UTF-8 JSON {"p":properties,"k":key,
//   "t":eventTime}, each member optional; empty when all are absent), u32 payloadLength, payload.
// All integers big-endian. A receiver that finds the property but cannot decode the payload
// hands the entry out as it is (the application's validation then rejects it).
//
// Ids: message i of n in the entry with broker id E has the id E with `batch_index` = i and
// `batch_size` = n set (MessageIdData fields 4 and 6, as the native client's batch ids), so ids
// stay base64 MessageIdData and order by (ledger, entry, index) with compareMessageIds.
//
// Semantics (the same as the native client's batches without batch-index acknowledgement):
// an entry is acknowledged to the broker once every message in it is; a negative
// acknowledgement, an ack timeout or a dead-letter move applies to the whole entry, and on
// redelivery the messages already acknowledged are filtered out. Deduplication is per entry: a
// producer re-sends a pending entry after a reconnect exactly as it built it, so the broker drops
// it if stored; but entries rebuilt by a restarted application may be cut differently, so a
// channel that needs exactly-once across application restarts (a Supplier's outputs) does not
// batch.
import { PulsarClosedError, PulsarMessageTooLargeError, PulsarProducerQueueFullError } from "./errors.ts";
import { decodeMessageId } from "./message-id.ts";
import type {
  BatchingOptions,
  OutgoingMessage,
  Producer,
  Properties,
  ReceivedMessage,
  SendReceipt,
} from "./ports.ts";
import { PendingWindow } from "./window.ts";

/** The entry property that marks a batch, and its format version. */
export const BATCH_PROPERTY = "surplus-batch";
const BATCH_VERSION = "1";
/**
 * Messages in one batch at most, on both sides. Any producer may set the batch property: without
 * this cap one 700 KB entry of 8-byte headers unpacks into ~90,000 messages (each an object and an
 * id of its own), so a receiver's queue of entries would hold tens of millions of them. A bigger
 * "batch" is handed out undecoded, as one message, for the application's validation to refuse.
 */
export const MAX_BATCH_MESSAGES = 1000;

// ---------------------------------------------------------------------------------------------
// The codec

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8", { fatal: true });

function metaOf(m: OutgoingMessage): Uint8Array | undefined {
  const meta: { p?: Properties; k?: string; t?: number } = {};
  let any = false;
  if (m.properties) {
    for (const _ in m.properties) {
      meta.p = m.properties;
      any = true;
      break;
    }
  }
  if (m.key !== undefined) {
    meta.k = m.key;
    any = true;
  }
  if (m.eventTime !== undefined) {
    meta.t = m.eventTime;
    any = true;
  }
  return any ? encoder.encode(JSON.stringify(meta)) : undefined;
}

/** Bytes one message takes in a batch (its framing included). */
function encodedSize(payload: Uint8Array, meta: Uint8Array | undefined): number {
  return 8 + payload.byteLength + (meta?.byteLength ?? 0);
}

function encode(items: readonly { payload: Uint8Array; meta: Uint8Array | undefined }[]): Uint8Array {
  let size = 4;
  for (const i of items) size += encodedSize(i.payload, i.meta);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, items.length);
  let at = 4;
  for (const { payload, meta } of items) {
    view.setUint32(at, meta?.byteLength ?? 0);
    at += 4;
    if (meta) {
      out.set(meta, at);
      at += meta.byteLength;
    }
    view.setUint32(at, payload.byteLength);
    at += 4;
    out.set(payload, at);
    at += payload.byteLength;
  }
  return out;
}

/** One batch's messages, encoded as the wire format above. */
export function encodeBatch(messages: readonly OutgoingMessage[]): Uint8Array {
  return encode(messages.map((m) => ({ payload: m.payload, meta: metaOf(m) })));
}

export interface BatchEntry {
  readonly payload: Uint8Array;
  readonly properties: Properties;
  readonly key?: string;
  readonly eventTime?: number;
}

/** Decodes a batch; undefined when the bytes are not a well-formed one (any length out of range,
 * trailing bytes, invalid UTF-8 or JSON, a meta member of the wrong type). */
export function decodeBatch(bytes: Uint8Array): BatchEntry[] | undefined {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 4) return undefined;
  const count = view.getUint32(0);
  if (count === 0 || count > MAX_BATCH_MESSAGES || count > (bytes.byteLength - 4) / 8) return undefined;
  const out: BatchEntry[] = [];
  let at = 4;
  for (let i = 0; i < count; i++) {
    if (at + 4 > bytes.byteLength) return undefined;
    const metaLength = view.getUint32(at);
    at += 4;
    if (at + metaLength + 4 > bytes.byteLength) return undefined;
    let entry: { -readonly [K in keyof BatchEntry]: BatchEntry[K] } = { payload: bytes, properties: {} };
    if (metaLength > 0) {
      const meta = parseMeta(bytes.subarray(at, at + metaLength));
      if (!meta) return undefined;
      entry = { ...entry, ...meta };
      at += metaLength;
    }
    const payloadLength = view.getUint32(at);
    at += 4;
    if (at + payloadLength > bytes.byteLength) return undefined;
    // A copy of its own: a payload posted to a worker must not carry the whole batch with it.
    entry.payload = bytes.slice(at, at + payloadLength);
    at += payloadLength;
    out.push(entry);
  }
  return at === bytes.byteLength ? out : undefined;
}

function parseMeta(
  bytes: Uint8Array,
): { properties: Properties; key?: string; eventTime?: number } | undefined {
  let meta: unknown;
  try {
    meta = JSON.parse(decoder.decode(bytes));
  } catch {
    return undefined;
  }
  if (typeof meta !== "object" || meta === null || Array.isArray(meta)) return undefined;
  const { p, k, t } = meta as { p?: unknown; k?: unknown; t?: unknown };
  const out: { properties: Properties; key?: string; eventTime?: number } = { properties: {} };
  if (p !== undefined) {
    if (typeof p !== "object" || p === null || Array.isArray(p)) return undefined;
    for (const v of Object.values(p)) if (typeof v !== "string") return undefined;
    out.properties = p as Properties;
  }
  if (k !== undefined) {
    if (typeof k !== "string") return undefined;
    out.key = k;
  }
  if (t !== undefined) {
    if (typeof t !== "number" || !Number.isFinite(t) || t <= 0) return undefined;
    out.eventTime = t;
  }
  return out;
}

/** True when a received entry says it is a batch. */
export function isBatch(message: Pick<ReceivedMessage, "properties">): boolean {
  return message.properties[BATCH_PROPERTY] === BATCH_VERSION;
}

/** The messages of a received batch entry, with their ids; undefined when it does not decode. */
export function unpackBatch(entry: ReceivedMessage): ReceivedMessage[] | undefined {
  const items = decodeBatch(entry.payload);
  if (!items) return undefined;
  const fields = idFields(entry.messageId);
  if (!fields) return undefined;
  const ids = batchIds(fields, items.length);
  return items.map((item, i) => {
    const m: { -readonly [K in keyof ReceivedMessage]: ReceivedMessage[K] } = {
      topic: entry.topic,
      messageId: ids[i] as string,
      payload: item.payload,
      properties: item.properties,
      publishTime: entry.publishTime,
      redeliveryCount: entry.redeliveryCount,
    };
    if (item.key !== undefined) m.key = item.key;
    if (item.eventTime !== undefined) m.eventTime = item.eventTime;
    return m;
  });
}

// ---------------------------------------------------------------------------------------------
// Ids

interface IdFields {
  readonly ledgerId: bigint;
  readonly entryId: bigint;
  readonly partition?: bigint;
  readonly batchIndex?: bigint;
  readonly batchSize?: bigint;
}

const U64 = (1n << 64n) - 1n;

/** MessageIdData fields 1–4 and 6; undefined when the id is not one. */
function idFields(messageId: string): IdFields | undefined {
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(messageId)) return undefined;
  const p = decodeMessageId(messageId);
  if (!p) return undefined;
  const out: { -readonly [K in keyof IdFields]: IdFields[K] } = { ledgerId: p.ledgerId, entryId: p.entryId };
  if (p.partition !== undefined) out.partition = p.partition;
  if (p.batchIndex !== U64) out.batchIndex = p.batchIndex;
  if (p.batchSize !== undefined && p.batchSize > 0n) out.batchSize = p.batchSize;
  return out;
}

function pushVarint(out: number[], value: bigint): void {
  let v = value & U64;
  while (v >= 0x80n) {
    out.push(Number(v & 0x7fn) | 0x80);
    v >>= 7n;
  }
  out.push(Number(v));
}

/** Fields 1–3 of an entry's id, as bytes. */
function entryBytes(f: IdFields): number[] {
  const out: number[] = [];
  const field = (n: number, v: bigint) => {
    pushVarint(out, BigInt(n << 3));
    pushVarint(out, v);
  };
  field(1, f.ledgerId);
  field(2, f.entryId);
  if (f.partition !== undefined) field(3, f.partition);
  return out;
}

function encodeId(f: IdFields): string {
  return Buffer.from(entryBytes(f)).toString("base64");
}

/** The ids of the `size` messages of an entry: its id with batch index (field 4) and size (6). */
function batchIds(f: IdFields, size: number): string[] {
  const prefix = entryBytes(f);
  const ids: string[] = [];
  for (let i = 0; i < size; i++) {
    const bytes = [...prefix, 0x20];
    pushVarint(bytes, BigInt(i));
    bytes.push(0x30);
    pushVarint(bytes, BigInt(size));
    ids.push(Buffer.from(bytes).toString("base64"));
  }
  return ids;
}

/** Where a message of a batch sits: the entry's id (as the broker takes it) and its index. */
export interface BatchPosition {
  /** The entry's id without batch fields. */
  readonly entryId: string;
  /** The id of the entry before it (entry − 1 of the same ledger; −1 is "before the ledger's
   * first entry"), to read the entry again with an exclusive start. */
  readonly beforeEntryId: string;
  readonly index: number;
  readonly size: number;
}

/** For a message id inside a batch (batch index and size set); undefined for any other id. */
export function batchPosition(messageId: string): BatchPosition | undefined {
  const f = idFields(messageId);
  if (!f || f.batchIndex === undefined || f.batchSize === undefined || f.batchIndex >= f.batchSize)
    return undefined;
  const entry = { ledgerId: f.ledgerId, entryId: f.entryId, partition: f.partition };
  return {
    entryId: encodeId(entry),
    beforeEntryId: encodeId({ ...entry, entryId: (f.entryId - 1n) & U64 }),
    index: Number(f.batchIndex),
    size: Number(f.batchSize),
  };
}

/** Ledger and entry of any message id, as a comparable key; undefined when it is not one. */
export function entryKey(messageId: string): readonly [bigint, bigint] | undefined {
  const f = idFields(messageId);
  return f ? [f.ledgerId, f.entryId] : undefined;
}

// ---------------------------------------------------------------------------------------------
// The producer

interface Queued {
  readonly message: OutgoingMessage;
  readonly meta: Uint8Array | undefined;
  readonly resolve: (receipt: SendReceipt) => void;
  readonly reject: (error: Error) => void;
}

/**
 * A Producer that packs the messages sent within one tick (up to `maxMessages` / `maxBytes`, and
 * only consecutive ones with the same key) into one entry of the inner producer. No timer: a
 * lone message leaves at the end of the tick it was sent in, so batching adds no latency at low
 * rates and forms by itself under load. `maxPendingMessages` bounds messages (not entries) in
 * flight, as for an unbatched producer.
 */
export class BatchingProducer implements Producer {
  readonly #inner: Producer;
  readonly #maxMessages: number;
  readonly #maxBytes: number;
  readonly #maxPayloadBytes: number;
  readonly #window: PendingWindow;
  readonly #blockIfQueueFull: boolean;
  #batch: Queued[] = [];
  #batchBytes = 4;
  #scheduled = false;
  #closed = false;

  constructor(
    inner: Producer,
    options: BatchingOptions & {
      readonly maxPayloadBytes: number;
      readonly maxPendingMessages?: number;
      readonly blockIfQueueFull?: boolean;
    },
  ) {
    this.#inner = inner;
    this.#maxMessages = options.maxMessages ?? 1000;
    this.#maxPayloadBytes = options.maxPayloadBytes;
    this.#maxBytes = Math.min(options.maxBytes ?? 128 * 1024, options.maxPayloadBytes);
    this.#window = new PendingWindow(options.maxPendingMessages ?? 1000);
    this.#blockIfQueueFull = options.blockIfQueueFull ?? true;
    if (
      !Number.isInteger(this.#maxMessages) ||
      this.#maxMessages < 1 ||
      this.#maxMessages > MAX_BATCH_MESSAGES
    )
      throw new RangeError(
        `batching.maxMessages must be an integer from 1 to ${MAX_BATCH_MESSAGES}, got ${this.#maxMessages}`,
      );
  }

  get topic(): string {
    return this.#inner.topic;
  }

  get producerName(): string {
    return this.#inner.producerName;
  }

  get pending(): number {
    return this.#window.inFlight;
  }

  send(message: OutgoingMessage): Promise<SendReceipt> {
    if (this.#closed) return Promise.reject(new PulsarClosedError(`producer on ${this.topic}`));
    let meta: Uint8Array | undefined;
    try {
      meta = metaOf(message);
    } catch (error) {
      return Promise.reject(error);
    }
    const size = encodedSize(message.payload, meta);
    if (size + 4 > this.#maxPayloadBytes) {
      return Promise.reject(new PulsarMessageTooLargeError(this.topic, size + 4, this.#maxPayloadBytes));
    }
    const enqueue = () =>
      new Promise<SendReceipt>((resolve, reject) => {
        const last = this.#batch[this.#batch.length - 1];
        if (
          last &&
          (last.message.key !== message.key ||
            this.#batch.length >= this.#maxMessages ||
            this.#batchBytes + size > this.#maxBytes)
        )
          this.#seal();
        this.#batch.push({ message, meta, resolve, reject });
        this.#batchBytes += size;
        if (this.#batch.length >= this.#maxMessages) this.#seal();
        else if (!this.#scheduled) {
          this.#scheduled = true;
          setImmediate(() => this.#seal());
        }
      });
    if (this.#window.tryAcquire()) return enqueue();
    if (!this.#blockIfQueueFull) {
      return Promise.reject(new PulsarProducerQueueFullError(this.topic, this.#window.capacity));
    }
    return this.#window.acquire().then(enqueue);
  }

  /** Sends the open batch as one entry of the inner producer. */
  #seal(): void {
    this.#scheduled = false;
    const batch = this.#batch;
    if (batch.length === 0) return;
    this.#batch = [];
    this.#batchBytes = 4;
    const first = batch[0] as Queued;
    const entry: { -readonly [K in keyof OutgoingMessage]: OutgoingMessage[K] } = {
      payload: encode(batch.map((q) => ({ payload: q.message.payload, meta: q.meta }))),
      properties: { [BATCH_PROPERTY]: BATCH_VERSION },
    };
    if (first.message.key !== undefined) entry.key = first.message.key;
    if (first.message.eventTime !== undefined) entry.eventTime = first.message.eventTime;
    this.#inner.send(entry).then(
      (receipt) => {
        const fields = receipt.duplicate ? undefined : idFields(receipt.messageId);
        const ids = fields ? batchIds(fields, batch.length) : [];
        batch.forEach((q, i) => {
          this.#window.release();
          q.resolve({
            messageId: ids[i] ?? receipt.messageId,
            sequenceId: receipt.sequenceId,
            duplicate: receipt.duplicate,
          });
        });
      },
      (error: Error) => {
        for (const q of batch) {
          this.#window.release();
          q.reject(error);
        }
      },
    );
  }

  async flush(): Promise<void> {
    this.#seal();
    await this.#window.drained();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#seal();
    this.#closed = true;
    this.#window.rejectWaiters(new PulsarClosedError(`producer on ${this.topic}`));
    await this.#inner.close();
  }
}
