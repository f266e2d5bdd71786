// npm run bench:registry — the registries' round trips on the local DynamoDB endpoint (the one the
// local market, the integration tests and bench:e2e use), through the real adapters:
//
//   record offers          one Customer and 10 Supplier offers recorded put-if-absent (one transaction)
//   open offers            the offer round's read of every open offer (two GSI queries)
//   commit 10 allocations  the offer round's commit of one Customer offer's 10 allocations: one
//                          TransactWriteItems of 21 conditional items (the Customer offer, 10 Supplier
//                          offers, 10 allocation puts)
//   bridge block           the verifier-bridge's run over one block holding 10 AllocationOpened events:
//                          cursor read, per event the terms read and the applied-event transaction,
//                          then the cursor's compare-and-set
//
// Each iteration uses fresh offers and a fresh block, so every write lands (none is a duplicate);
// the first --warmup iterations are not counted (a JVM or a cold Python process serves them).
// Targets: the offer round and the bridge run every second locally, so a commit takes at most a
// tenth of that at the median and a quarter at p95, a block's apply a quarter and a half.
// Writes bench/results/registry.json.
//
// Options: --iterations N (default 40); --warmup N (default 5); --endpoint URL (a DynamoDB
// endpoint already running; default: start the local one); --baseline FILE (an earlier
// registry.json, printed side by side).
import { existsSync, readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { parseArgs } from "node:util";
import {
  createTables,
  DynamoAllocatorRegistry,
  DynamoBridgeRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import {
  type Address,
  type Allocation,
  allocationId,
  type Bytes32,
  type CustomerOffer,
  type MarketDomain,
  type MarketEvent,
  offerId,
  SCHEMA_VERSION,
  type SupplierOffer,
} from "@surplus/core";
import { startLocalDynamoDb } from "@surplus/localstack/dynamodb";
import { runBridge } from "@surplus/operator";
import { type ResultRow, report } from "./report.ts";

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    iterations: { type: "string", default: "40" },
    warmup: { type: "string", default: "5" },
    endpoint: { type: "string" },
    baseline: { type: "string" },
  },
});
const ITERATIONS = Number(args.iterations);
const WARMUP = Number(args.warmup);
const SUPPLIERS = 10;
const log = (l: string) => process.stderr.write(`[bench:registry] ${l}\n`);

const domain: MarketDomain = {
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};
const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as Address;
const ALLOCATOR = addr(0xa110c);
const MEDIATOR = addr(0x3ed1a);
const T0 = 1_800_000_000;

function offers(iteration: number) {
  const customer: CustomerOffer = {
    kind: "customer",
    schemaVersion: SCHEMA_VERSION,
    account: addr(0xc000 + iteration),
    nonce: BigInt(iteration),
    serviceName: "people-counter",
    serviceHash: `0x${"ab".repeat(32)}` as Bytes32,
    miPerInput: 100,
    ramMb: 1_024,
    inputsPerSecond: 10,
    start: T0,
    end: T0 + 3_600,
    maxPricePerMi: 200n,
    replicas: 1,
    minReplicas: 1,
    minServiceSeconds: 300,
    mediators: [MEDIATOR],
  };
  const suppliers: SupplierOffer[] = Array.from({ length: SUPPLIERS }, (_, k) => ({
    kind: "supplier",
    schemaVersion: SCHEMA_VERSION,
    account: addr(0x5000 + k),
    nonce: BigInt(iteration),
    capacityMips: 4_000,
    ramMb: 4_096,
    start: T0,
    end: T0 + 7_200,
    minPricePerMi: 100n,
    mediators: [MEDIATOR],
  }));
  return { customer, suppliers };
}

/** The Customer's hour cut into 10 six-minute allocations, one per Supplier. */
function allocations(customerId: Bytes32, customer: CustomerOffer, supplierIds: Bytes32[]) {
  return supplierIds.map((supplierOffer, k) => {
    const allocation: Allocation = {
      schemaVersion: SCHEMA_VERSION,
      allocator: ALLOCATOR,
      customer: customer.account,
      suppliers: [addr(0x5000 + k)],
      mediator: MEDIATOR,
      customerOffer: customerId,
      supplierOffers: [supplierOffer],
      serviceHash: customer.serviceHash,
      start: T0 + k * 360,
      end: T0 + (k + 1) * 360,
      pricePerMi: 150n,
      miPerInput: customer.miPerInput,
      inputsPerSecond: customer.inputsPerSecond,
      testCount: 4,
      minReplicas: 1,
      nonce: BigInt(k),
    };
    return { allocationId: allocationId(domain, allocation), allocation };
  });
}

const timed = async <T>(samples: number[], f: () => Promise<T>): Promise<T> => {
  const t0 = performance.now();
  const out = await f();
  samples.push(performance.now() - t0);
  return out;
};
const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]! * 10) / 10;
};

const load0 = loadavg()[0]!;
const server = args.endpoint
  ? { endpoint: args.endpoint, stop: async () => {} }
  : await startLocalDynamoDb({ log });
try {
  const client = dynamoDbClient(server.endpoint);
  const names = tableNames(`bench-registry-${process.pid}-`);
  await createTables(client, names);
  const registry = new DynamoAllocatorRegistry(documentClient(client), names);
  const bridge = new DynamoBridgeRegistry(client, names);
  const noChannels = { provision: async () => undefined, revoke: async () => undefined };
  const noAnnouncer = { announce: async () => undefined };

  const record: number[] = [];
  const read: number[] = [];
  const commit: number[] = [];
  const bridgeBlock: number[] = [];
  log(`${ITERATIONS} iterations on ${server.endpoint}…`);
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    if (i === WARMUP) for (const xs of [record, read, commit, bridgeBlock]) xs.length = 0;
    const { customer, suppliers } = offers(i);
    const customerId = offerId(domain, customer);
    const supplierIds = suppliers.map((s) => offerId(domain, s));
    const recorded = await timed(record, () =>
      registry.recordOffers(
        [customer, ...suppliers].map((offer, k) => ({
          offerId: k === 0 ? customerId : supplierIds[k - 1]!,
          offer,
          envelope: "{}",
          recordedAtMs: Date.now(),
        })),
      ),
    );
    if (!recorded.every(Boolean)) throw new Error(`iteration ${i}: an offer was not recorded`);
    const open = await timed(read, () => registry.openOffers());
    const version = (id: Bytes32) =>
      [...open.customers, ...open.suppliers].find((o) => o.offerId === id)?.version ?? -1;
    const planned = allocations(customerId, customer, supplierIds);
    const landed = await timed(commit, () =>
      registry.commit({
        customer: {
          offerId: customerId,
          expectedVersion: version(customerId),
          openWindows: [],
          closed: true,
        },
        suppliers: supplierIds.map((offerId, k) => ({
          offerId,
          expectedVersion: version(offerId),
          commitments: [{ start: T0 + k * 360, end: T0 + (k + 1) * 360, mips: 1_000, ramMb: 1_024 }],
        })),
        allocations: planned.map((p) => ({
          ...p,
          commitment: { start: p.allocation.start, end: p.allocation.end, mips: 1_000, ramMb: 1_024 },
        })),
      }),
    );
    if (!landed) throw new Error(`iteration ${i}: the commit was cancelled`);

    // Block i + 1 holds the 10 allocations' AllocationOpened events (block 0 is the cursor's start).
    const block = i + 1;
    const events: MarketEvent[] = planned.map((p, k) => ({
      name: "AllocationOpened",
      allocationId: p.allocationId,
      args: { allocationId: p.allocationId },
      blockNumber: block,
      logIndex: k,
      transactionHash: `0x${block.toString(16).padStart(64, "0")}`,
      timestamp: T0 + block,
    }));
    const chain = {
      headBlock: async () => block,
      events: async (from: number, to: number) =>
        events.filter((e) => e.blockNumber >= from && e.blockNumber <= to),
    };
    const run = await timed(bridgeBlock, () =>
      runBridge(
        { chain, registry: bridge, announcer: noAnnouncer, channels: noChannels },
        { confirmations: 0, startBlock: block },
      ),
    );
    if (run.applied !== SUPPLIERS || run.lostRace)
      throw new Error(
        `iteration ${i}: the bridge applied ${run.applied} events (lost race: ${run.lostRace})`,
      );
  }

  const rows: ResultRow[] = [
    {
      name: "commit_10_allocations_p50_ms",
      value: pct(commit, 50),
      unit: "ms",
      target: "<= 100",
      note: "offer round's commit: 21-item TransactWriteItems, median",
    },
    {
      name: "commit_10_allocations_p95_ms",
      value: pct(commit, 95),
      unit: "ms",
      target: "<= 250",
      note: "same, p95",
    },
    {
      name: "bridge_block_10_events_p50_ms",
      value: pct(bridgeBlock, 50),
      unit: "ms",
      target: "<= 250",
      note: "bridge run over one block of 10 events, median",
    },
    {
      name: "bridge_block_10_events_p95_ms",
      value: pct(bridgeBlock, 95),
      unit: "ms",
      target: "<= 500",
      note: "same, p95",
    },
    {
      name: "record_11_offers_p50_ms",
      value: pct(record, 50),
      unit: "ms",
      note: "1 Customer + 10 Supplier offers put-if-absent, median",
    },
    {
      name: "open_offers_p50_ms",
      value: pct(read, 50),
      unit: "ms",
      note: "offer round's read of open offers, median (grows with the table)",
    },
  ];
  const engine = args.endpoint ? `given endpoint ${args.endpoint}` : "moto (localstack/src/dynamodb.ts)";
  report("registry", rows, {
    engine,
    iterations: ITERATIONS,
    warmup: WARMUP,
    cores: cpus().length,
    loadAverage1mBefore: load0,
    loadAverage1mAfter: loadavg()[0],
  });

  if (args.baseline && existsSync(args.baseline)) {
    const base = JSON.parse(readFileSync(args.baseline, "utf8")) as {
      context?: { engine?: string; loadAverage1mBefore?: number };
      rows: ResultRow[];
    };
    console.log(`\nside by side with ${args.baseline} (${base.context?.engine ?? "?"}):`);
    console.log(`${"row".padEnd(32)}${"baseline".padStart(12)}${"now".padStart(12)}  target`);
    for (const r of rows) {
      const b = base.rows.find((x) => x.name === r.name);
      console.log(
        `${r.name.padEnd(32)}${(b ? `${b.value} ${b.unit}` : "—").padStart(12)}${`${r.value} ${r.unit}`.padStart(12)}  ${r.target ?? ""}`,
      );
    }
  }
} finally {
  await server.stop();
}
