// npm run bench:cloud — the deployed market's cadence, on the local services: the Lambda handlers'
// entry points (lambdas/allocator/handler.ts, lambdas/verifier-bridge/handler.ts) run under the
// cloud's schedule semantics against Pulsar, DynamoDB (moto) and a Hardhat node. A scheduler
// invokes each handler once a period (as EventBridge's rate(1 minute) does: on time, whether or not
// the previous invocation is still running — the handlers' lease keeps them to one at a time),
// with the scheduled event's `time` and a context whose remaining time counts down from the
// function's timeout (75 s). Customer/Supplier pairs post offers throughout; each party accepts
// its allocation as soon as it arrives. Writes bench/results/cloud.json.
//
//   offer → allocation   the Customer's offer published → the signed allocation read on the channel
//   accept → Running     the last party's Accept published → the bridge's AllocationRunning read
//
// Not simulated: EventBridge's delivery delay and cold starts (the handler modules load once,
// before the first tick). Options: --minutes N (invocations per function, default 3),
// --pairs-per-minute N (default 6), --period S (the schedule's period, default 60).
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import {
  createTables,
  DynamoParticipants,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import {
  DEFAULT_LAYOUT,
  PulsarAdmin,
  PulsarTimeoutError,
  provisionStatusChannel,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { deployMarket } from "@surplus/contracts";
import {
  type Address,
  allocationId,
  type Bytes32,
  type CustomerOffer,
  offerId,
  SCHEMA_VERSION,
  type SupplierOffer,
  signEnvelope,
  toWire,
  verifyEnvelope,
  ZERO_HASH,
} from "@surplus/core";
import { startChain } from "@surplus/localstack/chain";
import { startLocalDynamoDb } from "@surplus/localstack/dynamodb";
import { startPulsar, stopPulsar } from "@surplus/localstack/pulsar";
import { type Contract, NonceManager, parseEther, Wallet } from "ethers";
import { report } from "./report.ts";

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    minutes: { type: "string", default: "3" },
    "pairs-per-minute": { type: "string", default: "6" },
    period: { type: "string", default: "60" },
  },
});
const PERIOD_MS = Number(args.period) * 1000;
const SLOTS = Number(args.minutes);
const PAIR_EVERY_MS = PERIOD_MS / Number(args["pairs-per-minute"]);
/** The functions' timeout as deployed (infra: the period + the 10 s stop margin + 5 s). */
const TIMEOUT_MS = PERIOD_MS + 15_000;
/** Posting stops this long before the last slot ends, so every pair can finish within it. */
const DRAIN_MS = 25_000;
const log = (l: string) => process.stderr.write(`[bench:cloud] ${l}\n`);

const load0 = loadavg()[0]!;
const pulsar = await startPulsar({ log });
const dynamo = await startLocalDynamoDb({ log });
const chain = await startChain({ log });
const stops = async () => {
  await dynamo.stop().catch(() => undefined);
  await chain.stop().catch(() => undefined);
  if (pulsar.startedHere) await stopPulsar().catch(() => undefined);
};

// Keys of their own (not the tests'): pair i's Customer and Supplier, one Mediator, the Allocator.
const key = (n: number) => new Wallet(`0x${(0x7000 + n).toString(16).padStart(64, "0")}`, chain.provider);
const pairs = Math.floor((SLOTS * PERIOD_MS - DRAIN_MS - 5_000) / PAIR_EVERY_MS) + 1;
const customers = Array.from({ length: pairs }, (_, i) => key(2 * i));
const suppliers = Array.from({ length: pairs }, (_, i) => key(2 * i + 1));
const mediator = key(9_000);
const allocator = key(9_001);
const GAMMA: Bytes32 = `0x${"77".repeat(32)}`;

const suffix = `${process.pid}-${Date.now().toString(36)}`;
const topics = {
  offers: `persistent://public/default/cloud-offers-${suffix}`,
  allocations: `persistent://public/default/cloud-allocations-${suffix}`,
  accept: `persistent://public/default/cloud-accept-${suffix}`,
};
const bus = new WebSocketMessageBus({ url: pulsar.webUrl, token: pulsar.adminToken });
const inFlight: Array<Promise<unknown>> = [];
/** What failed along the way (a send the broker did not acknowledge, a failed invocation): counted, not fatal. */
const failures: string[] = [];
const noted = (what: string) => (err: unknown) => {
  failures.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
  log(failures.at(-1)!);
};
let stopReading = false;

try {
  log(`deploying the market and funding ${2 * pairs + 2} accounts…`);
  const deployer = new NonceManager(chain.accounts[0]!);
  const m = await deployMarket(deployer, { treasury: await chain.accounts[1]!.getAddress() });
  const startBlock = await chain.provider.getBlockNumber();
  for (const w of [allocator, mediator, ...customers, ...suppliers])
    await (await deployer.sendTransaction({ to: w.address, value: parseEther("1") })).wait();
  await Promise.all(
    [mediator, ...customers, ...suppliers].map(async (w) => {
      const p = new NonceManager(w);
      await (await (m.token.connect(p) as Contract).getFunction("mint")(w.address, 10n ** 24n)).wait();
      await (
        await (m.token.connect(p) as Contract).getFunction("approve")(m.marketAddress, 10n ** 24n)
      ).wait();
      await (await (m.market.connect(p) as Contract).getFunction("deposit")(10n ** 24n)).wait();
    }),
  );
  const prefix = `cloud-${suffix}-`;
  const client = dynamoDbClient(dynamo.endpoint);
  await createTables(client, tableNames(prefix));
  const participants = new DynamoParticipants(documentClient(client), tableNames(prefix));
  for (const s of suppliers) await participants.admit(s.address as Address, "supplier", Date.now());
  for (const c of customers) await participants.admit(c.address as Address, "customer", Date.now());
  const admin = new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken });
  for (const t of Object.values(topics)) await admin.createTopic(t);
  // Admitted with their status channels, where the Allocator publishes their offers' statuses.
  const layout = { ...DEFAULT_LAYOUT, tenant: "public", publicNamespace: "default" };
  for (const w of [...customers, ...suppliers])
    await provisionStatusChannel(admin, w.address, allocator.address, layout);

  // The handlers read their environment when their module loads, as in a Lambda's init phase.
  Object.assign(process.env, {
    SURPLUS_TABLE_PREFIX: prefix,
    SURPLUS_DYNAMODB_ENDPOINT: dynamo.endpoint,
    SURPLUS_CHAIN_ID: String(m.domain.chainId),
    SURPLUS_MARKET_ADDRESS: m.marketAddress,
    SURPLUS_CHAIN_RPC_URL: chain.rpcUrl,
    SURPLUS_ALLOCATOR_KEY: allocator.privateKey,
    SURPLUS_PULSAR_URL: pulsar.webUrl,
    SURPLUS_PULSAR_TOKEN: pulsar.adminToken,
    // The market's layout here: its status channels go beside the bench's topics.
    SURPLUS_PULSAR_TENANT: "public",
    SURPLUS_PULSAR_NAMESPACE: "default",
    SURPLUS_OFFERS_TOPIC: topics.offers,
    SURPLUS_ALLOCATIONS_TOPIC: topics.allocations,
    SURPLUS_ACCEPT_TOPIC: topics.accept,
    SURPLUS_MARKET_START_BLOCK: String(startBlock),
    // The Hardhat node mines a block per transaction: nothing to wait for.
    SURPLUS_CONFIRMATIONS: "0",
    // As infra deploys them: δ_alloc 20 s, allocator rounds every second, a 10 s stop margin.
    SURPLUS_ALLOC_SECONDS: "20",
    SURPLUS_ROUND_INTERVAL_MS: "1000",
    SURPLUS_SCHEDULE_PERIOD_SECONDS: String(PERIOD_MS / 1000),
    SURPLUS_STOP_MARGIN_MS: "10000",
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_LOG_LEVEL: "WARN",
  });
  type Handler = (event: { id: string; time: string }, context: unknown) => Promise<Record<string, unknown>>;
  const allocate = ((await import("@surplus/lambdas/allocator/handler")) as unknown as { handler: Handler })
    .handler;
  // The bridge passes every ½ s, as deployed (infra: market-functions-stack.ts).
  process.env["SURPLUS_ROUND_INTERVAL_MS"] = "500";
  const bridge = (
    (await import("@surplus/lambdas/verifier-bridge/handler")) as unknown as { handler: Handler }
  ).handler;

  // What the parties see on the allocations channel.
  const offered = new Map<Bytes32, { pair: number; at: number }>();
  const allocatedAt = new Map<number, number>();
  const acceptedAt = new Map<Bytes32, number>();
  const runningAt = new Map<Bytes32, number>();
  const reader = await bus.createReader(topics.allocations, { startMessageId: "earliest" });
  const accepts = await bus.createProducer(topics.accept);
  const byAddress = new Map([mediator, ...customers, ...suppliers].map((w) => [w.address.toLowerCase(), w]));
  // Every party the allocation names accepts (a Supplier may serve another pair's Customer).
  const accept = async (id: Bytes32, parties: readonly Address[], customer: Address) => {
    const signed = [];
    for (const party of parties) {
      const w = byAddress.get(party.toLowerCase());
      if (!w) throw new Error(`no key for party ${party}`);
      const commitment = party === customer ? GAMMA : ZERO_HASH;
      signed.push(
        await signEnvelope(
          w,
          m.domain,
          "Accept",
          { allocationId: id, account: w.address as Address, commitment },
          Date.now(),
        ),
      );
    }
    for (const e of signed) await accepts.send({ payload: new TextEncoder().encode(toWire(e)) });
    acceptedAt.set(id, Date.now());
  };
  const reading = (async () => {
    while (!stopReading) {
      let msg: Awaited<ReturnType<typeof reader.readNext>>;
      try {
        msg = await reader.readNext(500);
      } catch (err) {
        if (err instanceof PulsarTimeoutError) continue;
        throw err;
      }
      const at = Date.now();
      const raw = JSON.parse(new TextDecoder().decode(msg.payload));
      if (msg.properties["type"] === "AllocationStateChanged") {
        const id = msg.properties["allocationId"] as Bytes32;
        if (raw.event === "AllocationRunning" && !runningAt.has(id)) runningAt.set(id, at);
        continue;
      }
      const v = verifyEnvelope(m.domain, raw, { nowMs: at, maxAgeMs: 60_000 });
      if (v.type !== "Allocation") continue;
      const o = offered.get(v.body.customerOffer);
      if (!o || allocatedAt.has(o.pair)) continue;
      allocatedAt.set(o.pair, at - o.at);
      const a = v.body;
      inFlight.push(
        accept(allocationId(m.domain, a), [a.customer, a.mediator, ...a.suppliers], a.customer).catch(
          noted(`accepts of pair ${o.pair}`),
        ),
      );
    }
  })().catch(noted("allocations reader"));

  // The offers: windows from a minute after posting (on the chain's clock if it runs ahead).
  const producer = await bus.createProducer(topics.offers);
  const post = async (i: number) => {
    const now = Math.max(Math.floor(Date.now() / 1000), (await chain.provider.getBlock("latest"))!.timestamp);
    const start = now + 60;
    const s: SupplierOffer = {
      kind: "supplier",
      schemaVersion: SCHEMA_VERSION,
      account: suppliers[i]!.address as Address,
      nonce: 1n,
      capacityMips: 4_000,
      ramMb: 4_096,
      start,
      end: start + 7_200,
      minPricePerMi: 100n,
      mediators: [mediator.address as Address],
    };
    const c: CustomerOffer = {
      kind: "customer",
      schemaVersion: SCHEMA_VERSION,
      account: customers[i]!.address as Address,
      nonce: 1n,
      serviceName: "people-counter",
      serviceHash: `0x${"ab".repeat(32)}` as Bytes32,
      miPerInput: 100,
      ramMb: 1_024,
      inputsPerSecond: 10,
      start,
      end: start + 3_600,
      maxPricePerMi: 200n,
      replicas: 1,
      minReplicas: 1,
      minServiceSeconds: 600,
      mediators: [mediator.address as Address],
    };
    const se = await signEnvelope(suppliers[i]!, m.domain, "SupplierOffer", s, Date.now());
    const ce = await signEnvelope(customers[i]!, m.domain, "CustomerOffer", c, Date.now());
    await producer.send({ payload: new TextEncoder().encode(toWire(se)) });
    offered.set(offerId(m.domain, c), { pair: i, at: Date.now() });
    await producer.send({ payload: new TextEncoder().encode(toWire(ce)) });
  };

  // The schedule: invocation k of each function at t0 + k·period, on time (EventBridge does not
  // wait for the previous one), with the remaining time counting down from the timeout.
  const t0 = Date.now() + 1_000;
  const running = { allocator: 0, bridge: 0 };
  const most = { allocator: 0, bridge: 0 };
  const results: Array<{ fn: string; k: number; report: Record<string, unknown> }> = [];
  const invoke = (fn: "allocator" | "bridge", handler: Handler, k: number) => async () => {
    const invoked = Date.now();
    const context = {
      getRemainingTimeInMillis: () => invoked + TIMEOUT_MS - Date.now(),
      awsRequestId: `${fn}-${k}-${suffix}`,
      functionName: fn,
    };
    running[fn]++;
    most[fn] = Math.max(most[fn], running[fn]);
    try {
      const id = `${fn}-schedule-${k}-${suffix}`;
      results.push({
        fn,
        k,
        report: await handler({ id, time: new Date(t0 + k * PERIOD_MS).toISOString() }, context),
      });
    } finally {
      running[fn]--;
    }
  };
  const at = (ms: number, f: () => Promise<unknown>) =>
    new Promise<unknown>((resolve, reject) =>
      setTimeout(() => f().then(resolve, reject), Math.max(0, ms - Date.now())),
    );
  log(
    `${SLOTS} invocations of each function, a period of ${PERIOD_MS / 1000} s; ${pairs} Customer/Supplier pairs…`,
  );
  const ticks: Array<Promise<unknown>> = [];
  for (let k = 0; k < SLOTS; k++) {
    ticks.push(
      at(t0 + k * PERIOD_MS, invoke("allocator", allocate, k)).catch(noted(`allocator invocation ${k}`)),
    );
    ticks.push(at(t0 + k * PERIOD_MS, invoke("bridge", bridge, k)).catch(noted(`bridge invocation ${k}`)));
  }
  for (let i = 0; i < pairs; i++)
    inFlight.push(at(t0 + 5_000 + i * PAIR_EVERY_MS, () => post(i)).catch(noted(`offers of pair ${i}`)));
  await Promise.all(ticks);
  await Promise.all(inFlight);
  stopReading = true;
  await reading;
  await reader.close();

  const offerToAllocation = [...allocatedAt.values()];
  const acceptToRunning = [...acceptedAt].flatMap(([id, t]) =>
    runningAt.has(id) ? [runningAt.get(id)! - t] : [],
  );
  const pct = (xs: number[], p: number) => {
    if (!xs.length) return -1;
    const s = [...xs].sort((a, b) => a - b);
    return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!);
  };
  const row = (name: string, xs: number[], p: number, target: string | undefined, note: string) =>
    xs.length
      ? { name, value: pct(xs, p), unit: "ms", ...(target ? { target } : {}), note }
      : { name, value: -1, unit: "ms", ...(target ? { target } : {}), note: `no sample (${note})` };
  const rounds = (fn: string, key: string) =>
    results.filter((r) => r.fn === fn).reduce((n, r) => n + Number(r.report[key] ?? 0), 0);
  report(
    "cloud",
    [
      row(
        "offer_to_allocation_p50_ms",
        offerToAllocation,
        50,
        "<= 1500",
        `Customer offer → signed allocation read, ${offerToAllocation.length} of ${pairs} pairs`,
      ),
      row("offer_to_allocation_p99_ms", offerToAllocation, 99, undefined, "same, p99"),
      row(
        "accept_to_running_p50_ms",
        acceptToRunning,
        50,
        "<= 1500",
        `last Accept → AllocationRunning read, ${acceptToRunning.length} allocations`,
      ),
      row("accept_to_running_p99_ms", acceptToRunning, 99, undefined, "same, p99"),
      {
        name: "pairs_not_allocated",
        value: pairs - offerToAllocation.length,
        unit: "pairs",
        target: "<= 0",
        note: "offered but no allocation read by the end",
      },
      {
        name: "allocator_rounds",
        value: rounds("allocator", "rounds"),
        unit: "rounds",
        note: `in ${SLOTS} invocations (${(SLOTS * PERIOD_MS) / 1000} s)`,
      },
      {
        name: "bridge_passes",
        value: rounds("bridge", "passes"),
        unit: "passes",
        note: `in ${SLOTS} invocations`,
      },
      {
        name: "concurrent_invocations_max",
        value: Math.max(most.allocator, most.bridge),
        unit: "invocations",
        note: "invoked on time; the lease lets one run rounds",
      },
    ],
    {
      periodSeconds: PERIOD_MS / 1000,
      invocationsPerFunction: SLOTS,
      pairs,
      timeoutSeconds: TIMEOUT_MS / 1000,
      invocations: results.map((r) => ({
        fn: r.fn,
        k: r.k,
        rounds: r.report["rounds"] ?? r.report["passes"],
        stopped: r.report["stopped"],
        failures: r.report["failures"],
      })),
      failures,
      cores: (await import("node:os")).cpus().length,
      loadAverage1mBefore: load0,
      loadAverage1mAfter: loadavg()[0],
    },
  );
} finally {
  stopReading = true;
  await bus.close().catch(() => undefined);
  await stops();
}
// The handlers' module-scope clients (WebSocket bus, JSON-RPC provider) keep the loop alive.
process.exit(process.exitCode ?? 0);
