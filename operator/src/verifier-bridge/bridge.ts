// The verifier-bridge use case: connects the chain to the streams. Each run reads the market
// contract's events from its stored block cursor up to `head − confirmations` (blocks that deep are
// taken as final: re-orgs shallower than the confirmation depth never reach it), and for each event,
// in chain order:
//   1. does its side effects: per-allocation channels are provisioned when an allocation opens
//      and revoked when it closes (both idempotent); the event is announced on Pulsar at least once,
//      carrying its dedup key (block:log index) so participants drop a repeated announcement;
//   2. records it in the allocations registry under its dedup key (block number, log index) with a
//      conditional write — an event applied once is never applied again;
// and finally advances the cursor with a compare-and-set, so a concurrent run that got there first
// wins and this one stops. A run that crashes anywhere is simply retried: side effects repeat
// harmlessly and nothing is recorded twice.
import { AllocationState, closeOutcome } from "@surplus/core";
import type {
  Announcer,
  BridgeRegistry,
  ChainReader,
  ChannelProvisioner,
  MarketEvent,
  ReputationKeeping,
} from "../ports.ts";

export interface BridgeDeps {
  readonly chain: ChainReader;
  readonly registry: BridgeRegistry;
  readonly announcer: Announcer;
  readonly channels: ChannelProvisioner;
  /**
   * Reputation (issue 17): at each close, every party's record of the allocation, folded from the
   * history the registry mirrored. Absent: not kept.
   */
  readonly reputation?: ReputationKeeping;
}

export interface BridgeOptions {
  /** Blocks to wait before an event is final. @default 2 */
  readonly confirmations?: number;
  /** Where to start when no cursor is stored (the market's deployment block). @default 0 */
  readonly startBlock?: number;
  /** Most blocks read per run. @default 2000 */
  readonly maxBlocksPerRun?: number;
  /** The cursor's name (one per market). @default "verifier-bridge" */
  readonly cursorName?: string;
}

export interface BridgeRunResult {
  readonly fromBlock: number;
  readonly toBlock: number;
  readonly events: number;
  readonly applied: number;
  readonly duplicates: number;
  /** Events about allocations the registry has no terms for (not ours, or not yet recorded). */
  readonly unknown: number;
  /** True when another run advanced the cursor first. */
  readonly lostRace: boolean;
}

const STATE_OF: Readonly<Record<string, AllocationState>> = {
  AllocationOpened: AllocationState.Signing,
  AllocationRunning: AllocationState.Running,
  MediationRequested: AllocationState.MediationRequested,
  AllocationClosed: AllocationState.Closed,
};

/** Dedup key of an event: its position in the chain. */
export const dedupKey = (e: Pick<MarketEvent, "blockNumber" | "logIndex">) =>
  `${e.blockNumber}:${e.logIndex}`;

/** The announcement's producer sequence id: increases with (block, log index). */
export const sequenceIdOf = (e: Pick<MarketEvent, "blockNumber" | "logIndex">) =>
  e.blockNumber * 100_000 + e.logIndex;

/** One scheduled run of the bridge. */
export async function runBridge(deps: BridgeDeps, options: BridgeOptions = {}): Promise<BridgeRunResult> {
  const name = options.cursorName ?? "verifier-bridge";
  const stored = await deps.registry.cursor(name);
  const fromBlock = stored === undefined ? (options.startBlock ?? 0) : stored + 1;
  const safeHead = (await deps.chain.headBlock()) - (options.confirmations ?? 2);
  const toBlock = Math.min(safeHead, fromBlock + (options.maxBlocksPerRun ?? 2000) - 1);
  const result = { fromBlock, toBlock, events: 0, applied: 0, duplicates: 0, unknown: 0, lostRace: false };
  if (toBlock < fromBlock) return result;

  const events = await deps.chain.events(fromBlock, toBlock);
  result.events = events.length;
  for (const e of events) {
    if (!e.allocationId) continue; // Deposited / Withdrawn: balances are read from the chain directly
    const terms = await deps.registry.termsOf(e.allocationId);
    if (!terms) {
      result.unknown++;
      continue;
    }
    const state = STATE_OF[e.name];
    if (e.name === "AllocationOpened") await deps.channels.provision(e.allocationId, terms);
    if (e.name === "AllocationClosed") await deps.channels.revoke(e.allocationId, terms);
    await deps.announcer.announce(
      {
        allocationId: e.allocationId,
        event: e.name,
        ...(state ? { state } : {}),
        blockNumber: e.blockNumber,
        transactionHash: e.transactionHash,
        args: e.args,
      },
      dedupKey(e),
    );
    const applied = await deps.registry.applyEvent({
      dedupKey: dedupKey(e),
      allocationId: e.allocationId,
      event: e.name,
      ...(state ? { state } : {}),
      blockNumber: e.blockNumber,
      transactionHash: e.transactionHash,
      timestamp: e.timestamp,
      args: e.args,
    });
    if (applied) result.applied++;
    else result.duplicates++;
    // Recorded also when the event was applied before (a run that crashed in between): the
    // ledger counts each allocation once per party.
    if (e.name === "AllocationClosed" && deps.reputation) {
      const outcome = closeOutcome(e.allocationId, terms, await deps.reputation.historyOf(e.allocationId));
      for (const [account, close] of outcome ?? []) await deps.reputation.ledger.recordClose(account, close);
    }
  }
  result.lostRace = !(await deps.registry.advanceCursor(name, stored, toBlock));
  return result;
}
