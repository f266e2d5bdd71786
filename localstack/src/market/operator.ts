// The operator's scheduled use cases (the Lambda handlers' code) on a local scheduler: the
// Allocator's offer round every second, its accept round every 250 ms, the verifier-bridge every
// 500 ms; and the crash injection a scenario may ask for.
import {
  ContractFreeBalances,
  MarketAllocationOpener,
  MarketEventReader,
  readMarketFees,
} from "@surplus/adapters/chain";
import {
  DynamoAcceptRegistry,
  DynamoAllocatorRegistry,
  DynamoBridgeRegistry,
  DynamoOfferStatuses,
  DynamoReputationLedger,
  DynamoStandingRegistry,
  documentClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import { PulsarStatusPublisher, WebSocketMessageBus } from "@surplus/adapters/pulsar";
import type { DeployedMarket } from "@surplus/contracts";
import type { Address, Bytes32, HistoryEntry, ReputationRequirement } from "@surplus/core";
import {
  PulsarAllocationPublisher,
  PulsarAnnouncer,
  PulsarChannelProvisioner,
  PulsarOfferSource,
  pendingFromAccepts,
  runAcceptRound,
  runAllocatorRound,
  runBridge,
  strikeLapses,
} from "@surplus/lambdas";
import type { JsonRpcProvider } from "ethers";
import type { Participant } from "./participants.ts";
import type { Provisioned } from "./provisioning.ts";
import { LOCAL_PARAMETERS, type MarketScenario, type Stack } from "./scenario.ts";

/** Raised by the crash injection (MarketScenario.faults). */
export class InjectedCrash extends Error {
  constructor(where: string) {
    super(`injected crash in ${where}`);
    this.name = "InjectedCrash";
  }
}

type Record_ = (who: string, event: string, fields?: Record<string, unknown>) => void;

/** Invocations run at a fixed interval until stopped; a failed one is logged and the next runs. */
export class Schedule {
  readonly #loops: Array<Promise<void>> = [];
  #running = true;
  readonly #record: Record_;

  constructor(record: Record_) {
    this.#record = record;
  }

  every(ms: number, name: string, fn: () => Promise<void>): void {
    this.#loops.push(
      (async () => {
        while (this.#running) {
          const started = Date.now();
          try {
            await fn();
          } catch (error) {
            this.#record(name, "invocation.failed", { error: (error as Error).message });
          }
          // A fixed interval between starts (a slow invocation is followed at once by the next).
          await new Promise((r) => setTimeout(r, Math.max(0, ms - (Date.now() - started))));
        }
      })(),
    );
  }

  /** No new invocation starts; resolves when the running ones are done. */
  async stop(): Promise<void> {
    this.#running = false;
    await Promise.allSettled(this.#loops);
  }
}

export interface OperatorContext {
  readonly stack: Stack;
  readonly scenario: MarketScenario;
  readonly provider: JsonRpcProvider;
  readonly deployed: DeployedMarket;
  readonly provisioned: Provisioned;
  /** The DynamoDB tables' name prefix. */
  readonly prefix: string;
  readonly allocator: Participant;
  readonly schedule: Schedule;
  readonly record: Record_;
  /** When each allocation was opened on-chain by the Allocator (filled in here). */
  readonly opened: Map<Bytes32, number>;
  /** What every Supplier matched with this Customer account must have shown (issue 17). */
  readonly requirementOf: (account: Address) => ReputationRequirement | undefined;
}

export interface Operator {
  readonly bridgeRegistry: DynamoBridgeRegistry;
  readonly offerStatuses: DynamoOfferStatuses;
  readonly reputations: DynamoReputationLedger;
  /** Offer rounds the Allocator has completed (failed ones included). */
  offerRounds(): number;
  close(): Promise<void>;
}

/** Builds the Allocator's and the verifier-bridge's use cases and schedules them. */
export async function startOperator(ctx: OperatorContext): Promise<Operator> {
  const { scenario, provisioned, allocator, schedule, record } = ctx;
  const { dynamo, admitted, admin, layout, channels } = provisioned;
  let offerRounds = 0;
  const allocatorRegistry = new DynamoAllocatorRegistry(documentClient(dynamo), tableNames(ctx.prefix));
  const domain = ctx.deployed.domain;
  const allocatorDeps = {
    source: new PulsarOfferSource(allocator.bus, channels.offers, 300),
    registry: allocatorRegistry,
    publisher: crashOnce(
      new PulsarAllocationPublisher(allocator.bus, channels.allocations, allocator.wallet, domain),
      "publishAllocation",
      scenario.faults?.allocatorCrashOnce === true,
      () => record("allocator", "crash.injected", {}),
    ),
  };
  const penaltyRate = scenario.parameters?.penaltyRate ?? LOCAL_PARAMETERS.penaltyRate!;
  // Paper ④, as the Lambda runs it after each offer round: accepts from the accept channel
  // recorded in DynamoDB, allocations every party accepted opened on the contract.
  const acceptDeps = {
    source: new PulsarOfferSource(allocator.bus, channels.accept, 300),
    registry: new DynamoAcceptRegistry(documentClient(dynamo), tableNames(ctx.prefix)),
    opener: new MarketAllocationOpener(allocator.wallet, ctx.deployed.marketAddress),
  };
  // The front door (issue 16), as the Lambda wires it: only admitted, funded parties are
  // allocated; a party whose allocations lapse is backed off.
  const frontDoor = {
    balances: new ContractFreeBalances(ctx.provider, ctx.deployed.marketAddress),
    standing: new DynamoStandingRegistry(documentClient(dynamo), tableNames(ctx.prefix)),
    participants: admitted,
    pending: pendingFromAccepts(acceptDeps.registry),
  };
  const fees = await readMarketFees(ctx.provider, ctx.deployed.marketAddress);
  const offerStatuses = new DynamoOfferStatuses(documentClient(dynamo), tableNames(ctx.prefix));
  const reputations = new DynamoReputationLedger(documentClient(dynamo), tableNames(ctx.prefix));
  const statusChannel = new PulsarStatusPublisher(allocator.bus, layout);
  schedule.every(1_000, "allocator", async () => {
    const report = await runAllocatorRound(
      {
        ...allocatorDeps,
        frontDoor,
        statuses: offerStatuses,
        statusChannel,
        reputation: reputations,
        requirementOf: ctx.requirementOf,
      },
      {
        domain,
        allocator: allocator.address,
        penaltyRate,
        frontDoor: { fees },
        ...(scenario.mechanism ? { mechanism: scenario.mechanism } : {}),
      },
      Date.now(),
    ).finally(() => offerRounds++);
    for (const r of report.refused) record("allocator", "offer.refused", r);
    if (report.recorded || report.allocations || report.voids || report.rejected.length)
      record("allocator", "round", {
        recorded: report.recorded,
        allocations: report.allocations,
        voids: report.voids,
        rejected: report.rejected.length,
        ...(report.rejected.length ? { reasons: report.rejected.map((r) => r.error) } : {}),
      });
  });
  // The accept round on a schedule of its own (in AWS both run in each scheduled invocation):
  // an allocation is opened within a quarter second of its last Accept, not after an offer round.
  schedule.every(250, "allocator", async () => {
    const accepts = await runAcceptRound(acceptDeps, { domain, allocator: allocator.address }, Date.now());
    for (const r of accepts.rejected) record("allocator", "accept.rejected", { error: r.error });
    for (const o of accepts.opened) {
      ctx.opened.set(o.allocationId, Date.now());
      record("allocator", "tx", {
        call: "open",
        allocation: o.allocationId,
        gas: o.gasUsed.toString(),
      });
    }
    for (const id of accepts.alreadyOpen) if (!ctx.opened.has(id)) ctx.opened.set(id, Date.now());
    for (const l of accepts.lapsed) record("allocator", "allocation.lapsed", l);
    if (accepts.lapsed.length)
      await strikeLapses(
        { standing: frontDoor.standing, accepts: acceptDeps.registry, balances: frontDoor.balances },
        accepts.lapsed,
        Date.now(),
        { fees },
      );
    for (const f of accepts.failed) record("allocator", "open.failed", f);
  });
  const adminBus = new WebSocketMessageBus({
    url: ctx.stack.pulsar.webUrl,
    token: ctx.stack.pulsar.adminToken,
  });
  const bridgeRegistry = new DynamoBridgeRegistry(dynamo, tableNames(ctx.prefix));
  const bridgeDeps = {
    chain: new MarketEventReader(ctx.provider, ctx.deployed.marketAddress),
    registry: bridgeRegistry,
    announcer: crashOnce(
      new PulsarAnnouncer(adminBus, channels.allocations),
      "announce",
      scenario.faults?.bridgeCrashOnce === true,
      () => record("bridge", "crash.injected", {}),
    ),
    channels: new PulsarChannelProvisioner(admin, layout),
    reputation: {
      ledger: reputations,
      historyOf: async (allocationId: Bytes32) =>
        ((await bridgeRegistry.chainStateOf(allocationId))?.history ?? []) as unknown as HistoryEntry[],
    },
  };
  schedule.every(500, "bridge", async () => {
    const r = await runBridge(bridgeDeps, { confirmations: 0, startBlock: 0 });
    if (r.applied)
      record("bridge", "applied", { events: r.applied, fromBlock: r.fromBlock, toBlock: r.toBlock });
  });
  return {
    bridgeRegistry,
    offerStatuses,
    reputations,
    offerRounds: () => offerRounds,
    close: () => adminBus.close(),
  };
}

/**
 * `target` with `method` failing once, right after it did its work (when `armed`): a crash between
 * a side effect and its record.
 */
function crashOnce<T extends object>(
  target: T,
  method: keyof T & string,
  armed: boolean,
  onCrash: () => void,
): T {
  if (!armed) return target;
  let crashed = false;
  const original = (target[method] as (...a: unknown[]) => Promise<unknown>).bind(target);
  Object.assign(target, {
    [method]: async (...args: unknown[]) => {
      const result = await original(...args);
      if (!crashed) {
        crashed = true;
        onCrash();
        throw new InjectedCrash(method);
      }
      return result;
    },
  });
  return target;
}
