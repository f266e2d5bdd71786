// Ports: what the protocol's use cases need from the outside world, as interfaces. Adapters
// (adapters/) implement them over the chain, Pulsar and DynamoDB; unit tests use in-memory ones.
import type { Allocation, Bytes32 } from "./schemas.ts";

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

/** The market's allocation states, as the verifier-bridge mirrors them (ISurplusMarket.State). */
export const AllocationState = {
  Signing: "Signing",
  Running: "Running",
  MediationRequested: "MediationRequested",
  Closed: "Closed",
} as const;
export type AllocationState = (typeof AllocationState)[keyof typeof AllocationState];

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

/** What the verifier-bridge needs from the registries. */
export interface BridgeRegistry {
  /** The terms the Allocator recorded for an allocation. */
  termsOf(allocationId: Bytes32): Promise<Allocation | undefined>;
  /** Records an event once; false when its dedup key was recorded already. */
  applyEvent(applied: AppliedEvent): Promise<boolean>;
  cursor(name: string): Promise<number | undefined>;
  /** Moves the cursor from `from` to `to`; false when another run moved it first. */
  advanceCursor(name: string, from: number | undefined, to: number): Promise<boolean>;
}
