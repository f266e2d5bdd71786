// The Allocator Lambda: invoked on a schedule (EventBridge, once a minute), it runs, every second
// for its minute (shared/cadence.ts, one invocation at a time), an offer round (round.ts: offers →
// auction → allocations published) and then an accept round (accepts.ts: accepts recorded,
// allocations every party accepted opened on the contract, the others lapsing at their signing
// deadline). Thin: clients and configuration at module scope, the use cases beside it.
// Idempotent on the scheduled event's id, so a retried invocation returns the first one's report
// instead of running again (and both rounds are safe to repeat anyway).
//
// Environment:
//   SURPLUS_CHAIN_ID, SURPLUS_MARKET_ADDRESS   the EIP-712 domain (market contract)
//   SURPLUS_CHAIN_RPC_URL                       the chain's JSON-RPC endpoint (`open` is sent there)
//   SURPLUS_SIGNER_SECRET_ARN                   the Allocator's private key in Secrets Manager (AWS), or
//   SURPLUS_ALLOCATOR_KEY                       the key itself (local runs)
//   SURPLUS_ALLOC_SECONDS, SURPLUS_SETUP_SECONDS  δ_alloc, δ_setup (default 5, 5): allocations start
//                                               δ_alloc + δ_setup after their round, and lapse unless
//                                               every party accepted by their start — with the
//                                               schedule's period of a minute, make δ_alloc exceed it
//   SURPLUS_SIGNING_LEAD_SECONDS                accepts are due this long before the start (default 0)
//   SURPLUS_PULSAR_URL                          the broker's web service
//   SURPLUS_PULSAR_TOKEN_SECRET_ARN             the Allocator's JWT in Secrets Manager (AWS), or
//   SURPLUS_PULSAR_TOKEN                        the JWT itself (local runs)
//   SURPLUS_OFFERS_TOPIC, SURPLUS_ALLOCATIONS_TOPIC, SURPLUS_ACCEPT_TOPIC
//                                               default: the market channels (adapters marketChannels())
//   SURPLUS_TABLE_PREFIX                        DynamoDB table-name prefix (default "surplus-")
//   SURPLUS_DYNAMODB_ENDPOINT                   the local one (moto); unset in AWS
//   SURPLUS_MAX_PRICE_PER_MI, SURPLUS_MAX_REPLICAS, SURPLUS_MAX_WINDOW_SECONDS,
//   SURPLUS_MAX_OPEN_OFFERS_PER_ACCOUNT
//                                               the market's bounds on offers (front-door.ts; defaults
//                                               DEFAULT_MARKET_BOUNDS); free balances and the fees are
//                                               read from the market contract
//   SURPLUS_ROUND_INTERVAL_MS, SURPLUS_SCHEDULE_PERIOD_SECONDS, SURPLUS_STOP_MARGIN_MS
//                                               the cadence (default 1000, 60, 5000; cadence.ts)
import { IdempotencyConfig, makeIdempotent } from "@aws-lambda-powertools/idempotency";
import { DynamoDBPersistenceLayer } from "@aws-lambda-powertools/idempotency/dynamodb";
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import {
  ContractFreeBalances,
  DynamoAcceptRegistry,
  DynamoAllocatorRegistry,
  DynamoLease,
  DynamoParticipants,
  DynamoStandingRegistry,
  documentClient,
  dynamoDbClient,
  MarketAllocationOpener,
  marketChannels,
  readMarketFees,
  tableNames,
  WebSocketMessageBus,
} from "@surplus/adapters";
import {
  type Address,
  DEFAULT_MARKET_BOUNDS,
  type MarketDomain,
  type MarketFees,
  type ProtocolDelays,
} from "@surplus/core";
import { JsonRpcProvider, Wallet } from "ethers";
import { cadenceFromEnv, type RemainingTime, runCadence, sumReports } from "../shared/cadence.ts";
import { secretFromEnv } from "../shared/secrets.ts";
import { runAcceptRound } from "./accepts.ts";
import { pendingFromAccepts, strikeLapses } from "./front-door.ts";
import { PulsarAllocationPublisher, PulsarOfferSource } from "./pulsar.ts";
import { type AllocatorConfig, runAllocatorRound } from "./round.ts";

const env = (name: string): string => {
  const value = process.env[name];
  if (!value) throw new Error(`the allocator needs ${name} to be set`);
  return value;
};

const logger = new Logger({ serviceName: "allocator" });
const metrics = new Metrics({ namespace: "Surplus", serviceName: "allocator" });
const names = tableNames();
const dynamo = dynamoDbClient();
const registry = new DynamoAllocatorRegistry(documentClient(dynamo), names);
const acceptRegistry = new DynamoAcceptRegistry(documentClient(dynamo), names);
const domain: MarketDomain = {
  chainId: BigInt(env("SURPLUS_CHAIN_ID")),
  verifyingContract: env("SURPLUS_MARKET_ADDRESS") as Address,
};
const key = await secretFromEnv(process.env, "SURPLUS_ALLOCATOR_KEY", "SURPLUS_SIGNER_SECRET_ARN");
if (!key) throw new Error("the allocator needs SURPLUS_SIGNER_SECRET_ARN (or SURPLUS_ALLOCATOR_KEY locally)");
// The generated secret is bare hex; ethers wants the 0x prefix. Connected: it pays for `open`.
const signer = new Wallet(
  key.startsWith("0x") ? key : `0x${key}`,
  new JsonRpcProvider(env("SURPLUS_CHAIN_RPC_URL")),
);
const pulsarToken = await secretFromEnv(
  process.env,
  "SURPLUS_PULSAR_TOKEN",
  "SURPLUS_PULSAR_TOKEN_SECRET_ARN",
);
const bus = new WebSocketMessageBus({
  url: env("SURPLUS_PULSAR_URL"),
  ...(pulsarToken ? { token: pulsarToken } : {}),
});
const channels = marketChannels();
const source = new PulsarOfferSource(bus, process.env["SURPLUS_OFFERS_TOPIC"] ?? channels.offers);
const publisher = new PulsarAllocationPublisher(
  bus,
  process.env["SURPLUS_ALLOCATIONS_TOPIC"] ?? channels.allocations,
  signer,
  domain,
);
// The accept channel is read like the offers channel: from a stored position, with a Reader.
const acceptSource = new PulsarOfferSource(bus, process.env["SURPLUS_ACCEPT_TOPIC"] ?? channels.accept);
const opener = new MarketAllocationOpener(signer, domain.verifyingContract);
const delays: ProtocolDelays | undefined =
  process.env["SURPLUS_ALLOC_SECONDS"] || process.env["SURPLUS_SETUP_SECONDS"]
    ? {
        allocSeconds: Number(process.env["SURPLUS_ALLOC_SECONDS"] ?? 5),
        setupSeconds: Number(process.env["SURPLUS_SETUP_SECONDS"] ?? 5),
      }
    : undefined;
/** A positive integer from the environment, or `fallback` when unset; anything else is an error. */
const bound = (name: string, fallback: bigint): bigint => {
  const value = process.env[name];
  if (value === undefined || value === "") return fallback;
  if (!/^[1-9][0-9]*$/.test(value))
    throw new Error(`${name} must be a positive integer, not ${JSON.stringify(value)}`);
  return BigInt(value);
};
// The front door (issue 16): the market's bounds, and free balances and fees from the contract.
const frontDoor = {
  balances: new ContractFreeBalances(signer.provider!, domain.verifyingContract),
  standing: new DynamoStandingRegistry(documentClient(dynamo), names),
  // Only admitted participants' offers count (lambdas/allocator/admission.ts admits them).
  participants: new DynamoParticipants(documentClient(dynamo), names),
  // What allocations awaiting `open` will lock is already spoken for.
  pending: pendingFromAccepts(acceptRegistry),
};
const bounds = {
  maxPricePerMi: bound("SURPLUS_MAX_PRICE_PER_MI", DEFAULT_MARKET_BOUNDS.maxPricePerMi),
  maxReplicas: Number(bound("SURPLUS_MAX_REPLICAS", BigInt(DEFAULT_MARKET_BOUNDS.maxReplicas))),
  maxWindowSeconds: Number(
    bound("SURPLUS_MAX_WINDOW_SECONDS", BigInt(DEFAULT_MARKET_BOUNDS.maxWindowSeconds)),
  ),
  maxOpenOffersPerAccount: Number(
    bound("SURPLUS_MAX_OPEN_OFFERS_PER_ACCOUNT", BigInt(DEFAULT_MARKET_BOUNDS.maxOpenOffersPerAccount)),
  ),
};
/**
 * ρ, F and M come from the contract (one source of truth: an Allocator whose ρ differed from the
 * contract's would see every `open` revert), read once on the first invocation, not at import.
 */
let settings: Promise<{ fees: MarketFees; config: AllocatorConfig }> | undefined;
const marketSettings = () =>
  (settings ??= readMarketFees(signer.provider!, domain.verifyingContract).then(
    (fees) => ({
      fees,
      config: {
        domain,
        allocator: signer.address as Address,
        penaltyRate: fees.penaltyRate,
        ...(delays ? { delays } : {}),
        frontDoor: { fees, bounds },
      },
    }),
    (error: unknown) => {
      settings = undefined; // retried on the next round
      throw error;
    },
  ));
const cadence = cadenceFromEnv();
const lease = new DynamoLease(documentClient(dynamo), names, "allocator");
const acceptConfig = {
  domain,
  allocator: signer.address as Address,
  signingLeadSeconds: Number(process.env["SURPLUS_SIGNING_LEAD_SECONDS"] ?? 0),
  ...(delays ? { delays } : {}),
};

/** The scheduled event: only its id matters (the idempotency key). */
interface ScheduledEvent {
  readonly id: string;
  readonly time?: string;
}

/** One offer round, then one accept round: what the schedule runs every second. */
async function round() {
  const { fees, config } = await marketSettings();
  const report = await runAllocatorRound({ source, registry, publisher, frontDoor }, config, Date.now());
  for (const r of report.rejected) logger.warn("offer rejected", { position: r.position, error: r.error });
  for (const r of report.refused) logger.warn("offer refused", r);
  if (report.read > 0 || report.published > 0)
    logger.info("round done", { ...report, rejected: report.rejected.length });

  const a = await runAcceptRound(
    { source: acceptSource, registry: acceptRegistry, opener },
    acceptConfig,
    Date.now(),
  );
  for (const r of a.rejected) logger.warn("accept rejected", { position: r.position, error: r.error });
  for (const o of a.opened)
    logger.info("allocation opened", {
      allocationId: o.allocationId,
      transactionHash: o.transactionHash,
      gasUsed: o.gasUsed.toString(),
      state: o.state,
    });
  for (const l of a.lapsed) logger.warn("allocation lapsed", l);
  // Parties to blame for a lapse are backed off (their offers sit out the next rounds).
  const struck = await strikeLapses(
    { standing: frontDoor.standing, accepts: acceptRegistry, balances: frontDoor.balances },
    a.lapsed,
    Date.now(),
    { fees },
  );
  for (const s of struck) logger.warn("party backed off", s);
  for (const f of a.failed) logger.error("open failed", f);
  // The idempotency layer stores the sum as JSON: counts and ids only (no bigint).
  const accepts = {
    read: a.read,
    recorded: a.recorded,
    duplicates: a.duplicates,
    rejected: a.rejected.length,
    opened: a.opened.map((o) => o.allocationId),
    alreadyOpen: a.alreadyOpen.length,
    lapsed: a.lapsed.length,
    failed: a.failed.length,
  };
  if (a.read > 0) logger.info("accept round done", accepts);
  return { ...report, rejected: report.rejected.length, refused: report.refused.length, accepts };
}

async function allocate(event: ScheduledEvent, context?: RemainingTime & { awsRequestId?: string }) {
  const started = Date.now();
  const run = await runCadence(
    round,
    {
      lease,
      holder: context?.awsRequestId ?? event.id,
      slotStartMs: event.time ? Date.parse(event.time) : started,
      context,
      onError: (err) => logger.error("round failed", err as Error),
    },
    cadence,
  );
  const sum = sumReports(run.rounds);
  const accepts = sumReports(run.rounds.map((r) => r.accepts));
  metrics.addMetric("Rounds", MetricUnit.Count, run.rounds.length);
  metrics.addMetric("RoundFailures", MetricUnit.Count, run.failures);
  metrics.addMetric("OffersRead", MetricUnit.Count, sum.read ?? 0);
  metrics.addMetric("OffersRejected", MetricUnit.Count, sum.rejected ?? 0);
  metrics.addMetric("Allocations", MetricUnit.Count, sum.allocations ?? 0);
  metrics.addMetric("VoidAllocations", MetricUnit.Count, sum.voids ?? 0);
  metrics.addMetric("CommitConflicts", MetricUnit.Count, sum.conflicts ?? 0);
  metrics.addMetric("AcceptsRead", MetricUnit.Count, accepts.read ?? 0);
  metrics.addMetric("AcceptsRecorded", MetricUnit.Count, accepts.recorded ?? 0);
  metrics.addMetric("AcceptsRejected", MetricUnit.Count, accepts.rejected ?? 0);
  metrics.addMetric(
    "AllocationsOpened",
    MetricUnit.Count,
    (accepts.opened?.length ?? 0) + (accepts.alreadyOpen ?? 0),
  );
  metrics.addMetric("AllocationsLapsed", MetricUnit.Count, accepts.lapsed ?? 0);
  metrics.addMetric("OpenFailures", MetricUnit.Count, accepts.failed ?? 0);
  metrics.addMetric("InvocationDuration", MetricUnit.Milliseconds, Date.now() - started);
  metrics.publishStoredMetrics();
  const { stopped, waitedMs, failures } = run;
  logger.info("invocation done", {
    eventId: event.id,
    rounds: run.rounds.length,
    failures,
    stopped,
    waitedMs,
  });
  return { ...sum, accepts, rounds: run.rounds.length, failures, stopped, waitedMs };
}

export const handler = makeIdempotent(allocate, {
  persistenceStore: new DynamoDBPersistenceLayer({ tableName: names.idempotency, awsSdkV3Client: dynamo }),
  config: new IdempotencyConfig({ eventKeyJmesPath: "id" }),
});
