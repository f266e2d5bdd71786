// What the role agents need from the outside world, as narrow interfaces. The Pulsar channel
// layer and the chain adapter implement them; in-memory versions serve the unit tests.
import type { Address, Bytes32, Hex } from "@surplus/core";

/** One received input of the allocation's input channel. */
export interface ReceivedInput {
  readonly seq: bigint;
  readonly payload: Uint8Array;
  /** Acknowledges the input: it is not redelivered after a restart. */
  ack(): Promise<void>;
}

/** The input channel, as a Supplier consumes it (a durable subscription: unacked inputs come back). */
export interface InputSubscription {
  /** Up to `max` inputs, waiting at most `waitMs` for the first; [] when none came. */
  receive(max: number, waitMs: number): Promise<ReceivedInput[]>;
}

/** One output a Supplier publishes on its output channel. */
export interface PublishedOutput {
  readonly seq: bigint;
  readonly payload: Uint8Array;
  readonly error?: string;
}

/**
 * A Supplier's output channel. Implementations publish with the input's seq as the producer
 * sequence id, so an output re-sent after a crash is dropped by the broker's deduplication.
 */
export interface OutputPublisher {
  publish(outputs: readonly PublishedOutput[]): Promise<void>;
}

/** The Customer's input channel (sequence id = seq as well). */
export interface InputPublisher {
  publish(inputs: ReadonlyArray<{ seq: bigint; eventTimeMs: number; payload: Uint8Array }>): Promise<void>;
}

/** A Supplier's signed verification evidence, as the contract takes it. */
export interface SignedResult {
  readonly supplier: Address;
  readonly seal: Bytes32;
  readonly signature: Hex;
}
