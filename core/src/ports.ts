// Ports: what the protocol's use cases need from the outside world, as interfaces. Adapters
// (adapters/) implement them over the chain, Pulsar and DynamoDB; unit tests use in-memory ones.
import type { Bytes32 } from "./schemas.ts";

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
