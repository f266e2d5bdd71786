// The Allocator's channels over Pulsar (operator ports OfferSource, AllocationPublisher): the offers
// and accept channels read with a Reader from the stored position, and the allocations channel
// written by one named producer.
import {
  type Allocation,
  type AllocationPublisher,
  type Bytes32,
  type ChannelMessage,
  type MarketDomain,
  type OfferSource,
  signEnvelope,
  toWire,
  type VoidAllocation,
} from "@surplus/core";
import type { Signer } from "ethers";
import { PulsarTimeoutError } from "./errors.ts";
import type { MessageBus } from "./ports.ts";

const decoder = new TextDecoder();
/**
 * Largest payload decoded (bytes): a signed offer or accept is well under 4 KiB; a bigger message
 * is refused undecoded, so a flood of 5 MB messages costs the Allocator no more than small ones.
 */
export const MAX_PAYLOAD_BYTES = 64 * 1024;
const encoder = new TextEncoder();

type Reader = Awaited<ReturnType<MessageBus["createReader"]>>;

/**
 * Reads a channel after a stored position. One Reader is kept open between reads: when the next
 * read resumes where the last one stopped (the usual case: the caller stores the position it got),
 * the broker has already pushed what arrived meanwhile, so a read takes what is buffered and waits
 * only `settleMs` for more. A read from any other position (another run moved the cursor, or a
 * read is already in progress) opens a Reader there, which waits up to `idleMs` for its first
 * messages, as a new subscription must.
 */
export class PulsarOfferSource implements OfferSource {
  readonly #bus: MessageBus;
  readonly #topic: string;
  readonly #idleMs: number;
  readonly #settleMs: number;
  /** The kept Reader and the position of the last message it handed out. */
  #kept: { reader: Reader; after: string | undefined } | undefined;
  #reading = false;

  /**
   * `idleMs`: how long a new Reader waits for one more message before a batch is taken as
   * complete; `settleMs`: the same for the kept Reader, whose backlog is already buffered.
   */
  constructor(bus: MessageBus, topic: string, idleMs = 500, settleMs = 20) {
    this.#bus = bus;
    this.#topic = topic;
    this.#idleMs = idleMs;
    this.#settleMs = Math.min(settleMs, idleMs);
  }

  async read(after: string | undefined, max: number): Promise<ChannelMessage[]> {
    if (this.#reading) {
      // Concurrent reads each get a Reader of their own.
      const reader = await this.#open(after);
      try {
        return await this.#take(reader, max, this.#idleMs);
      } finally {
        await reader.close();
      }
    }
    this.#reading = true;
    try {
      const warm = this.#kept !== undefined && this.#kept.after === after;
      if (!warm) {
        await this.#kept?.reader.close().catch(() => undefined);
        this.#kept = undefined;
        this.#kept = { reader: await this.#open(after), after };
      }
      const kept = this.#kept!;
      try {
        const out = await this.#take(kept.reader, max, warm ? this.#settleMs : this.#idleMs);
        kept.after = out.at(-1)?.position ?? kept.after;
        return out;
      } catch (err) {
        this.#kept = undefined;
        await kept.reader.close().catch(() => undefined);
        throw err;
      }
    } finally {
      this.#reading = false;
    }
  }

  /** Closes the kept Reader (the bus's `close` does too). */
  async close(): Promise<void> {
    const kept = this.#kept;
    this.#kept = undefined;
    await kept?.reader.close();
  }

  #open(after: string | undefined): Promise<Reader> {
    return this.#bus.createReader(this.#topic, { startMessageId: after ?? "earliest" });
  }

  async #take(reader: Reader, max: number, waitMs: number): Promise<ChannelMessage[]> {
    const out: ChannelMessage[] = [];
    try {
      while (out.length < max) {
        // The first message of a new Reader may take a while to arrive; after that the rest of
        // the backlog streams in, so each next one gets the same allowance.
        const m = await reader.readNext(waitMs);
        let payload: unknown;
        if (m.payload.byteLength > MAX_PAYLOAD_BYTES) {
          // Refused by verification (not an envelope); only its size is kept.
          payload = { oversized: m.payload.byteLength };
        } else {
          try {
            payload = JSON.parse(decoder.decode(m.payload));
          } catch {
            payload = undefined; // rejected by verification, but the cursor still moves past it
          }
        }
        out.push({ position: m.messageId, payload, publishedAtMs: m.publishTime });
      }
    } catch (err) {
      if (!(err instanceof PulsarTimeoutError)) throw err;
    }
    return out;
  }
}

export class PulsarAllocationPublisher implements AllocationPublisher {
  readonly #bus: MessageBus;
  readonly #topic: string;
  readonly #signer: Signer;
  readonly #domain: MarketDomain;
  /** Created once, on the first send (concurrent first sends share it: the name is exclusive). */
  #producer: Promise<Awaited<ReturnType<MessageBus["createProducer"]>>> | undefined;

  constructor(bus: MessageBus, topic: string, signer: Signer, domain: MarketDomain) {
    this.#bus = bus;
    this.#topic = topic;
    this.#signer = signer;
    this.#domain = domain;
  }

  async #send(key: string, type: string, body: string): Promise<void> {
    this.#producer ??= this.#bus.createProducer(this.#topic, { producerName: "allocator" }).catch((err) => {
      this.#producer = undefined;
      throw err;
    });
    const producer = await this.#producer;
    await producer.send({ payload: encoder.encode(body), key, properties: { type } });
  }

  /** Publishes the Allocator-signed allocation (EIP-712), keyed by its id for consumers' dedup. */
  async publishAllocation(allocationId: Bytes32, allocation: Allocation): Promise<void> {
    const envelope = await signEnvelope(this.#signer, this.#domain, "Allocation", allocation, Date.now());
    await this.#send(allocationId, "Allocation", toWire(envelope));
  }

  async publishVoid(v: VoidAllocation): Promise<void> {
    await this.#send(`void#${v.offer}`, "VoidAllocation", toWire(v));
  }

  async close(): Promise<void> {
    const producer = await this.#producer?.catch(() => undefined);
    this.#producer = undefined;
    await producer?.close();
  }
}
