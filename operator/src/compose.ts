// The composition root of the operator, written once: the Lambda handlers (lambdas/*/handler.ts)
// and the local market (localstack/src/market/operator.ts) build their adapters (DynamoDB, Pulsar,
// the chain) and call these, so both run the same object graph: the offer round with its front
// door, offer statuses and reputations; the accept round with the strikes for lapses; the bridge
// with its reputation keeping.
import type {
  Address,
  Bytes32,
  HistoryEntry,
  MarketBounds,
  MarketDomain,
  MarketFees,
  MechanismName,
  ProtocolDelays,
  ReputationRequirement,
} from "@surplus/core";
import { type AcceptRoundReport, runAcceptRound } from "./allocator/accept-round.ts";
import { pendingFromAccepts, strikeLapses } from "./allocator/front-door.ts";
import { type RoundReport, runAllocatorRound } from "./allocator/offer-round.ts";
import type {
  AcceptRegistry,
  AdmittedParticipants,
  AllocationOpener,
  AllocationPublisher,
  AllocatorRegistry,
  Announcer,
  BridgeRegistry,
  ChainReader,
  ChannelProvisioner,
  FreeBalances,
  OfferSource,
  OfferStatusChannel,
  OfferStatusRegistry,
  ReputationLedger,
  StandingRegistry,
} from "./ports.ts";
import { type BridgeRunResult, runBridge } from "./verifier-bridge/bridge.ts";

/** What the Allocator is configured with (OperatorConfig and domainOf give the deployed values). */
export interface AllocatorSettings {
  readonly domain: MarketDomain;
  readonly delays?: ProtocolDelays;
  /** Accepts are due this long before an allocation's start. @default 0 */
  readonly signingLeadSeconds?: number;
  /** @default DEFAULT_MARKET_BOUNDS */
  readonly bounds?: MarketBounds;
  /** @default DEFAULT_MECHANISM */
  readonly mechanism?: MechanismName;
}

/** The Allocator's adapters, built by the caller. */
export interface AllocatorAdapters {
  /** The Allocator's account: named in its allocations, the only one that may `open` them. */
  readonly allocator: Address;
  readonly offers: OfferSource;
  /** The accept channel, read like the offers channel. */
  readonly accepts: OfferSource;
  readonly registry: AllocatorRegistry;
  readonly acceptRegistry: AcceptRegistry;
  readonly publisher: AllocationPublisher;
  readonly opener: AllocationOpener;
  readonly balances: FreeBalances;
  readonly standing: StandingRegistry;
  readonly participants: AdmittedParticipants;
  readonly statuses: OfferStatusRegistry;
  readonly statusChannel: OfferStatusChannel;
  readonly reputation: ReputationLedger;
  /** ρ, F and M, read from the market contract (one source of truth). */
  readFees(): Promise<MarketFees>;
  /** A Customer's standing reputation requirement (the local market's scenarios). @default none */
  readonly requirementOf?: (customer: Address) => ReputationRequirement | undefined;
}

export interface AcceptRoundOutcome extends AcceptRoundReport {
  /** Parties backed off for the allocations that lapsed this round. */
  readonly struck: ReadonlyArray<{ allocationId: Bytes32; account: Address; reason: string }>;
}

export interface Allocator {
  /** One offer round (paper ①–②) at `nowMs`. */
  offerRound(nowMs: number): Promise<RoundReport>;
  /** One accept round (paper ④) at `nowMs`; the parties to blame for a lapse are backed off. */
  acceptRound(nowMs: number): Promise<AcceptRoundOutcome>;
}

export function composeAllocator(settings: AllocatorSettings, adapters: AllocatorAdapters): Allocator {
  const frontDoor = {
    balances: adapters.balances,
    standing: adapters.standing,
    // Only admitted participants' offers count (admission.ts admits them).
    participants: adapters.participants,
    // What allocations awaiting `open` will lock is already spoken for.
    pending: pendingFromAccepts(adapters.acceptRegistry),
  };
  // Read once, on the first round rather than at start-up; a failed read is tried again next round.
  let fees: Promise<MarketFees> | undefined;
  const marketFees = () =>
    (fees ??= adapters.readFees().catch((error: unknown) => {
      fees = undefined;
      throw error;
    }));
  const delays = settings.delays ? { delays: settings.delays } : {};
  return {
    async offerRound(nowMs) {
      const f = await marketFees();
      return runAllocatorRound(
        {
          source: adapters.offers,
          registry: adapters.registry,
          publisher: adapters.publisher,
          frontDoor,
          statuses: adapters.statuses,
          statusChannel: adapters.statusChannel,
          reputation: adapters.reputation,
          ...(adapters.requirementOf ? { requirementOf: adapters.requirementOf } : {}),
        },
        {
          domain: settings.domain,
          allocator: adapters.allocator,
          penaltyRate: f.penaltyRate,
          ...delays,
          frontDoor: { fees: f, ...(settings.bounds ? { bounds: settings.bounds } : {}) },
          ...(settings.mechanism ? { mechanism: settings.mechanism } : {}),
        },
        nowMs,
      );
    },
    async acceptRound(nowMs) {
      const report = await runAcceptRound(
        { source: adapters.accepts, registry: adapters.acceptRegistry, opener: adapters.opener },
        {
          domain: settings.domain,
          allocator: adapters.allocator,
          signingLeadSeconds: settings.signingLeadSeconds ?? 0,
          ...delays,
        },
        nowMs,
      );
      const struck =
        report.lapsed.length === 0
          ? []
          : await strikeLapses(
              { standing: adapters.standing, accepts: adapters.acceptRegistry, balances: adapters.balances },
              report.lapsed,
              Date.now(),
              { fees: await marketFees() },
            );
      return { ...report, struck };
    },
  };
}

/** The bridge's registry, with the history it mirrored of each allocation (for reputations). */
export interface BridgeHistory extends BridgeRegistry {
  chainStateOf(
    allocationId: Bytes32,
  ): Promise<{ history: ReadonlyArray<Record<string, unknown>> } | undefined>;
}

export interface BridgeAdapters {
  readonly chain: ChainReader;
  readonly registry: BridgeHistory;
  readonly announcer: Announcer;
  readonly channels: ChannelProvisioner;
  /** Where each party's record is kept at every close (issue 17). */
  readonly reputation: ReputationLedger;
}

export interface BridgeSettings {
  /** Where to start without a stored cursor (the market's deployment block). @default 0 */
  readonly startBlock?: number;
  /** @default 2 */
  readonly confirmations?: number;
}

export interface Bridge {
  /** One pass: the final events since the cursor applied, announced and mirrored. */
  pass(): Promise<BridgeRunResult>;
}

export function composeBridge(settings: BridgeSettings, adapters: BridgeAdapters): Bridge {
  const deps = {
    chain: adapters.chain,
    registry: adapters.registry,
    announcer: adapters.announcer,
    channels: adapters.channels,
    reputation: {
      ledger: adapters.reputation,
      historyOf: async (allocationId: Bytes32): Promise<HistoryEntry[]> =>
        ((await adapters.registry.chainStateOf(allocationId))?.history ?? []).map((h) => ({
          event: String(h["event"]),
          args: h["args"] as HistoryEntry["args"],
        })),
    },
  };
  return {
    pass: () =>
      runBridge(deps, {
        startBlock: settings.startBlock ?? 0,
        confirmations: settings.confirmations ?? 2,
      }),
  };
}
