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
import {
  PulsarAllocationPublisher,
  PulsarAnnouncer,
  PulsarChannelProvisioner,
  PulsarOfferSource,
  PulsarStatusPublisher,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import type { DeployedMarket } from "@surplus/contracts";
import type { Address, Bytes32, ReputationRequirement } from "@surplus/core";
import { composeAllocator, composeBridge } from "@surplus/operator";
import type { JsonRpcProvider } from "ethers";
import type { Participant } from "./participants.ts";
import type { Provisioned } from "./provisioning.ts";
import type { MarketScenario, Stack } from "./scenario.ts";

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

/**
 * Builds the Allocator's and the verifier-bridge's adapters over the local stack, composes them as
 * the Lambda handlers do (@surplus/operator compose.ts), and schedules them.
 */
export async function startOperator(ctx: OperatorContext): Promise<Operator> {
  const { scenario, provisioned, allocator, schedule, record } = ctx;
  const { dynamo, admitted, admin, layout, channels } = provisioned;
  const db = documentClient(dynamo);
  const names = tableNames(ctx.prefix);
  let offerRounds = 0;
  const domain = ctx.deployed.domain;
  const offerStatuses = new DynamoOfferStatuses(db, names);
  const reputations = new DynamoReputationLedger(db, names);
  const operator = composeAllocator(
    { domain, ...(scenario.mechanism ? { mechanism: scenario.mechanism } : {}) },
    {
      allocator: allocator.address,
      offers: new PulsarOfferSource(allocator.bus, channels.offers, 300),
      // Paper ④: accepts from the accept channel, read like the offers channel.
      accepts: new PulsarOfferSource(allocator.bus, channels.accept, 300),
      registry: new DynamoAllocatorRegistry(db, names),
      acceptRegistry: new DynamoAcceptRegistry(db, names),
      publisher: crashOnce(
        new PulsarAllocationPublisher(allocator.bus, channels.allocations, allocator.wallet, domain),
        "publishAllocation",
        scenario.faults?.allocatorCrashOnce === true,
        () => record("allocator", "crash.injected", {}),
      ),
      opener: new MarketAllocationOpener(allocator.wallet, ctx.deployed.marketAddress),
      // The front door (issue 16): only admitted, funded parties are allocated; a party whose
      // allocations lapse is backed off.
      balances: new ContractFreeBalances(ctx.provider, ctx.deployed.marketAddress),
      standing: new DynamoStandingRegistry(db, names),
      participants: admitted,
      statuses: offerStatuses,
      statusChannel: new PulsarStatusPublisher(allocator.bus, layout),
      reputation: reputations,
      readFees: () => readMarketFees(ctx.provider, ctx.deployed.marketAddress),
      requirementOf: ctx.requirementOf,
    },
  );
  schedule.every(1_000, "allocator", async () => {
    const report = await operator.offerRound(Date.now()).finally(() => offerRounds++);
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
    const accepts = await operator.acceptRound(Date.now());
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
    for (const f of accepts.failed) record("allocator", "open.failed", f);
  });
  const adminBus = new WebSocketMessageBus({
    url: ctx.stack.pulsar.webUrl,
    token: ctx.stack.pulsar.adminToken,
  });
  const bridgeRegistry = new DynamoBridgeRegistry(dynamo, names);
  const bridge = composeBridge(
    { confirmations: 0, startBlock: 0 },
    {
      chain: new MarketEventReader(ctx.provider, ctx.deployed.marketAddress),
      registry: bridgeRegistry,
      announcer: crashOnce(
        new PulsarAnnouncer(adminBus, channels.allocations),
        "announce",
        scenario.faults?.bridgeCrashOnce === true,
        () => record("bridge", "crash.injected", {}),
      ),
      channels: new PulsarChannelProvisioner(admin, layout),
      reputation: reputations,
    },
  );
  schedule.every(500, "bridge", async () => {
    const r = await bridge.pass();
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
