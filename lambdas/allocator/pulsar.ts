// The allocator's channel ports over Pulsar (adapters/src/pulsar): the offers channel read with a
// Reader from the stored position, and the allocations channel written by one named producer.
import { type MessageBus, PulsarTimeoutError } from "@surplus/adapters";
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

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export class PulsarOfferSource implements OfferSource {
  readonly #bus: MessageBus;
  readonly #topic: string;
  readonly #idleMs: number;

  /** `idleMs`: how long to wait for one more message before a batch is taken as complete. */
  constructor(bus: MessageBus, topic: string, idleMs = 500) {
    this.#bus = bus;
    this.#topic = topic;
    this.#idleMs = idleMs;
  }

  async read(after: string | undefined, max: number): Promise<ChannelMessage[]> {
    const reader = await this.#bus.createReader(this.#topic, { startMessageId: after ?? "earliest" });
    const out: ChannelMessage[] = [];
    try {
      while (out.length < max) {
        const m = await reader.readNext(this.#idleMs);
        let payload: unknown;
        try {
          payload = JSON.parse(decoder.decode(m.payload));
        } catch {
          payload = undefined; // rejected by verification, but the cursor still moves past it
        }
        out.push({ position: m.messageId, payload });
      }
    } catch (err) {
      if (!(err instanceof PulsarTimeoutError)) throw err;
    } finally {
      await reader.close();
    }
    return out;
  }
}

export class PulsarAllocationPublisher implements AllocationPublisher {
  readonly #bus: MessageBus;
  readonly #topic: string;
  readonly #signer: Signer;
  readonly #domain: MarketDomain;
  #producer: Awaited<ReturnType<MessageBus["createProducer"]>> | undefined;

  constructor(bus: MessageBus, topic: string, signer: Signer, domain: MarketDomain) {
    this.#bus = bus;
    this.#topic = topic;
    this.#signer = signer;
    this.#domain = domain;
  }

  async #send(key: string, type: string, body: string): Promise<void> {
    this.#producer ??= await this.#bus.createProducer(this.#topic, { producerName: "allocator" });
    await this.#producer.send({ payload: encoder.encode(body), key, properties: { type } });
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
    await this.#producer?.close();
  }
}
