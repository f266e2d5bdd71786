// Pulsar message ids as the WebSocket API shows them: base64 of the protobuf `MessageIdData`
// (field 1 ledgerId, field 2 entryId, 3 partition, 4 batch_index, all varints). Decoding the
// two first fields is enough to order ids and to spot the broker's "duplicate" answer, which
// carries ledgerId = entryId = -1.

export interface MessagePosition {
  readonly ledgerId: bigint;
  readonly entryId: bigint;
  /** −1 (as 2^64 − 1) when the id is not inside a batch. */
  readonly batchIndex: bigint;
  /** Field 3, when present. */
  readonly partition?: bigint;
  /** Messages in the batch (field 6); 0 or absent outside one. */
  readonly batchSize?: bigint;
}

const MINUS_ONE = (1n << 64n) - 1n;

/** Decodes ledger and entry id of a base64 MessageIdData; undefined when it is not one. */
export function decodeMessageId(messageId: string): MessagePosition | undefined {
  let bytes: Uint8Array;
  try {
    bytes = Buffer.from(messageId, "base64");
  } catch {
    return undefined;
  }
  const fields = new Map<number, bigint>();
  let i = 0;
  const varint = (): bigint | undefined => {
    let result = 0n;
    let shift = 0n;
    while (i < bytes.length) {
      const b = bytes[i++] as number;
      result |= BigInt(b & 0x7f) << shift;
      if ((b & 0x80) === 0) return result;
      shift += 7n;
      if (shift > 70n) return undefined;
    }
    return undefined;
  };
  while (i < bytes.length) {
    const tag = varint();
    if (tag === undefined) return undefined;
    const field = Number(tag >> 3n);
    const wire = Number(tag & 7n);
    if (wire === 0) {
      const v = varint();
      if (v === undefined) return undefined;
      fields.set(field, v);
    } else if (wire === 2) {
      const len = varint();
      if (len === undefined) return undefined;
      i += Number(len);
    } else {
      return undefined;
    }
  }
  const ledgerId = fields.get(1);
  const entryId = fields.get(2);
  if (ledgerId === undefined || entryId === undefined) return undefined;
  const position: { -readonly [K in keyof MessagePosition]: MessagePosition[K] } = {
    ledgerId,
    entryId,
    batchIndex: fields.get(4) ?? MINUS_ONE,
  };
  const partition = fields.get(3);
  if (partition !== undefined) position.partition = partition;
  const batchSize = fields.get(6);
  if (batchSize !== undefined) position.batchSize = batchSize;
  return position;
}

/** True for the id the broker returns when it dropped a message as a duplicate. */
export function isDuplicateAckId(messageId: string): boolean {
  // -1 as a varint is nine 0xff bytes then 0x01: in base64, at any alignment, a run of at least
  // eleven "/". Ids without such a run (every real one) need no decoding: this runs per send.
  if (!messageId.includes("//////")) return false;
  const position = decodeMessageId(messageId);
  return position !== undefined && position.ledgerId === MINUS_ONE && position.entryId === MINUS_ONE;
}

/** Orders two message ids of the same topic by (ledger, entry, batch index). */
export function compareMessageIds(a: string, b: string): number {
  const x = decodeMessageId(a);
  const y = decodeMessageId(b);
  if (!x || !y) throw new TypeError(`cannot compare message ids ${a} and ${b}`);
  for (const [p, q] of [
    [x.ledgerId, y.ledgerId],
    [x.entryId, y.entryId],
    [x.batchIndex, y.batchIndex],
  ] as const) {
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}
