// What the role agents need from the outside world, as narrow interfaces. The Pulsar channel
// layer and the chain adapter implement them; in-memory versions serve the unit tests.
import type { Address, Allocation, AllocationState, Bytes32, Hex } from "@surplus/core";

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

/** A mined transaction, for the participant's log and the market's gas report. */
export interface TxOutcome {
  readonly hash: Hex;
  readonly gasUsed: bigint;
}

/** An allocation's record on-chain (the contract's `recordOf`). */
export interface ChainRecord {
  readonly state: AllocationState;
  /** Signing or mediation deadline, unix seconds (0 when none applies). */
  readonly deadline: number;
  /** Bitmask of the running (signed) Suppliers. */
  readonly suppliers: number;
  readonly disputed: number;
  readonly mediating: number;
}

/** The contract's result tuple: a Supplier's seal and its EIP-712 SupplierResult signature. */
export interface ResultArg {
  readonly seal: Bytes32;
  readonly signature: Hex;
}

/**
 * The market contract, as a Customer, Supplier or Mediator uses it: read an allocation's record and
 * the protocol windows, and make the calls of paper ⑥–⑪. Each call is one state transition; the
 * contract guards state and deadlines and reverts otherwise.
 */
export interface MarketChain {
  recordOf(id: Bytes32): Promise<ChainRecord>;
  /** The chain's clock (latest block timestamp), which the contract's deadlines use. */
  now(): Promise<number>;
  windows(): Promise<{ readonly signing: number; readonly reveal: number; readonly mediation: number }>;
  /**
   * The Customer's settle (only it may call it): reveals the checklist's hash parts and γ_c, the
   * Suppliers' sealed results and, in the same transaction, the Suppliers it disputes.
   */
  settle(
    a: Allocation,
    salt: Bytes32,
    seqsHash: Bytes32,
    gammaC: Bytes32,
    results: readonly ResultArg[],
    disputedMask: number,
  ): Promise<TxOutcome>;
  mediate(
    a: Allocation,
    gammaM: Bytes32,
    lazyMask: number,
    results: readonly ResultArg[],
  ): Promise<TxOutcome>;
  expire(a: Allocation): Promise<TxOutcome>;
}
