// Ports: what the protocol's use cases need from the outside world, as interfaces. Adapters
// (adapters/) implement them over the chain, Pulsar and DynamoDB; unit tests use in-memory ones.
import type { AllocationState } from "./allocation-state.ts";
import type { ProtocolDelays } from "./feasibility.ts";
import type { Address, Allocation, Bytes32, Hex } from "./schemas.ts";

/** One decoded event of the market contract. */
export interface MarketEvent {
  readonly name: string;
  /** The allocation it concerns (undefined for Deposited/Withdrawn). */
  readonly allocationId?: Bytes32;
  readonly args: Readonly<Record<string, unknown>>;
  readonly blockNumber: number;
  readonly logIndex: number;
  readonly transactionHash: string;
  /** Block timestamp, unix seconds. */
  readonly timestamp: number;
}

/** Reads the market contract's events. */
export interface ChainReader {
  headBlock(): Promise<number>;
  /** Market events in [fromBlock, toBlock], ordered by block then log index. */
  events(fromBlock: number, toBlock: number): Promise<MarketEvent[]>;
}

/** The entry an applied chain event leaves in the allocations registry. */
export interface AppliedEvent {
  /** The event's position in the chain: `${blockNumber}:${logIndex}`. */
  readonly dedupKey: string;
  readonly allocationId: Bytes32;
  readonly event: string;
  /** The state the allocation is in after it, when the event changes state. */
  readonly state?: AllocationState;
  readonly blockNumber: number;
  readonly transactionHash: string;
  readonly timestamp: number;
  readonly args: Readonly<Record<string, unknown>>;
}

/**
 * A named position moved only by compare-and-set: the offers and accepts channel cursors (a Pulsar
 * message id) and the bridge's block cursor (a block number) are the same idea, in each registry.
 */
export interface CursorStore<P> {
  cursor(name: string): Promise<P | undefined>;
  /** Moves the cursor from `from` to `to`; false when another run moved it first (nothing written). */
  advanceCursor(name: string, from: P | undefined, to: P): Promise<boolean>;
}

/** What the verifier-bridge needs from the registries. */
export interface BridgeRegistry extends CursorStore<number> {
  /** The terms the Allocator recorded for an allocation. */
  termsOf(allocationId: Bytes32): Promise<Allocation | undefined>;
  /** Records an event once; false when its dedup key was recorded already. */
  applyEvent(applied: AppliedEvent): Promise<boolean>;
}

/** An Accept the Allocator verified and recorded (paper ④): exactly the signature `open` takes. */
export interface RecordedAccept {
  readonly allocationId: Bytes32;
  readonly account: Address;
  /** The party's EIP-712 Accept signature. */
  readonly signature: Hex;
  /** Γ, the Customer's commitment to its test outputs; zero in the other parties' accepts. */
  readonly commitment: Bytes32;
  /** The signed envelope as received (wire JSON), kept for audit. */
  readonly envelope: string;
  readonly recordedAtMs: number;
}

/** What became of an accept the registry was asked to record. */
export const AcceptRecording = {
  /** Stored now. */
  Recorded: "recorded",
  /** This party's accept was stored before (a replay or a second accept): the first one stands. */
  Duplicate: "duplicate",
  /** The allocation was opened or lapsed already: accepts are no longer taken. */
  Finished: "finished",
  /** No allocation of this Allocator has that id. */
  UnknownAllocation: "unknown-allocation",
} as const;
export type AcceptRecording = (typeof AcceptRecording)[keyof typeof AcceptRecording];

/** Where an allocation is between being committed and being opened on-chain. */
export const OpenStatus = {
  /** Collecting accepts. */
  Awaiting: "awaiting",
  /** A run claimed the `open` submission (every party accepted). */
  Submitting: "submitting",
  /** Open on-chain. */
  Opened: "opened",
  /** Not every party accepted before the signing deadline, or one declined: never opened. */
  Lapsed: "lapsed",
} as const;
export type OpenStatus = (typeof OpenStatus)[keyof typeof OpenStatus];

/** One allocation's accepts and open submission, as the registry holds them. */
export interface OpenProgress {
  readonly allocationId: Bytes32;
  readonly allocation: Allocation;
  /** Recorded accepts by account (EIP-55). */
  readonly accepts: ReadonlyMap<Address, RecordedAccept>;
  readonly status: OpenStatus;
  /** When the current `open` claim was taken (status Submitting). */
  readonly claimedAtMs?: number;
  /** The `open` transaction, once sent. */
  readonly transactionHash?: string;
}

/** What the Allocator's accept round needs from the registries. */
export interface AcceptRegistry extends CursorStore<string> {
  /** The terms of an allocation this Allocator committed. */
  allocation(allocationId: Bytes32): Promise<Allocation | undefined>;
  /**
   * Records an accept put-if-absent on (allocation, account), and only while the allocation is
   * collecting accepts; retried and concurrent runs therefore store each party's accept once.
   */
  recordAccept(accept: RecordedAccept): Promise<AcceptRecording>;
  /** Allocations neither opened nor lapsed yet (may lag a recent write; read each with `progress`). */
  awaitingOpen(): Promise<Bytes32[]>;
  /** One allocation's accepts and open submission, strongly consistent. */
  progress(allocationId: Bytes32): Promise<OpenProgress | undefined>;
  /**
   * Compare-and-set claim of the `open` submission: taken when nobody holds it, or when the claim
   * taken at `staleClaimAtMs` is the one still held (its run crashed). False when another run
   * claimed it first or the allocation finished.
   */
  claimOpen(allocationId: Bytes32, nowMs: number, staleClaimAtMs?: number): Promise<boolean>;
  /** Drops this run's claim (taken at `claimedAtMs`) after a submission that failed before being sent. */
  releaseOpen(allocationId: Bytes32, claimedAtMs: number): Promise<void>;
  /** Notes the `open` transaction's hash as soon as it was sent. */
  recordOpenSent(allocationId: Bytes32, transactionHash: string): Promise<void>;
  /** Marks the allocation open on-chain; it leaves the awaiting set. */
  markOpened(
    allocationId: Bytes32,
    opened: { readonly atMs: number; readonly transactionHash?: string },
  ): Promise<void>;
  /**
   * Marks the allocation lapsed (it leaves the awaiting set) and, in the same atomic step, gives
   * back what it held in the offers registry: its commitment on each of its Supplier offers, and
   * its window on its Customer offer (reopening the offer if it was closed) unless that offer has
   * expired by `atMs` (t_e, with `delays`, default DEFAULT_DELAYS) — so a later offer round can
   * match them again. False, and nothing given back, when a run holds an `open` claim other than
   * `claimedAtMs` or the allocation finished: retried and concurrent runs give back once.
   */
  markLapsed(
    allocationId: Bytes32,
    lapsed: {
      readonly atMs: number;
      readonly reason: string;
      readonly claimedAtMs?: number;
      readonly delays?: ProtocolDelays;
    },
  ): Promise<boolean>;
}

/** The Accept signatures of every party, in the shape of the contract's `Signatures`. */
export interface AcceptSignatures {
  readonly customer: Hex;
  /** Γ from the Customer's accept. */
  readonly commitment: Bytes32;
  readonly mediator: Hex;
  /** Aligned with the allocation's `suppliers`. */
  readonly suppliers: readonly Hex[];
}

/** How a submission of `open` ended. */
export type OpenOutcome =
  | {
      readonly kind: "opened";
      readonly transactionHash: string;
      readonly blockNumber: number;
      readonly gasUsed: bigint;
      /** The state right after the call: Running when every signature was valid and funded. */
      readonly state: AllocationState;
    }
  /** The contract had it opened already (by an earlier submission whose record was lost, or a concurrent one). */
  | { readonly kind: "already-open"; readonly state: AllocationState };

/** Opens allocations on the market contract (paper ④: `open(terms, sigs)`, sent by the Allocator). */
export interface AllocationOpener {
  /** The allocation's on-chain state; undefined while it was never opened. */
  stateOf(allocationId: Bytes32): Promise<AllocationState | undefined>;
  /**
   * Submits `open`. Idempotent: checks the state first and treats "already opened" (including a
   * revert because a concurrent submission won) as `already-open`. `onSent` runs once the
   * transaction is sent, before it is mined.
   */
  open(
    allocationId: Bytes32,
    allocation: Allocation,
    signatures: AcceptSignatures,
    onSent?: (transactionHash: string) => Promise<void>,
  ): Promise<OpenOutcome>;
}
