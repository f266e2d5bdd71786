// The Allocator of bench:flood, in a process of its own so that its resident memory is its own:
// the offer round (runAllocatorRound, the entry the flood test and the handlers use) with the front
// door on, over the real broker, DynamoDB and market contract, in a loop. Forked by flood.ts, which
// sends one `init` message with where the services are and who is admitted; it answers with one
// `round` message per round and a `sample` message (process.memoryUsage now, the peak since the last
// sample, and the heap left after a full collection) on each `sample` request.
import { ContractFreeBalances, readMarketFees } from "@surplus/adapters/chain";
import {
  DynamoAllocatorRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import { PulsarOfferSource, WebSocketMessageBus } from "@surplus/adapters/pulsar";
import type { Address, Allocation, AllocationPublisher, Bytes32, VoidAllocation } from "@surplus/core";
import {
  MemoryParticipants,
  MemoryStandingRegistry,
  type RoundReport,
  runAllocatorRound,
} from "@surplus/operator";
import { JsonRpcProvider } from "ethers";

export interface FloodAllocatorInit {
  readonly type: "init";
  readonly pulsarUrl: string;
  readonly token: string;
  readonly topic: string;
  readonly dynamodbEndpoint: string;
  readonly tablePrefix: string;
  readonly rpcUrl: string;
  readonly marketAddress: Address;
  readonly chainId: string;
  readonly allocator: Address;
  /** The round's batches of 500 messages at most (AllocatorConfig.maxBatches). @default the round's */
  readonly maxBatches?: number;
  readonly admitted: ReadonlyArray<{ readonly account: Address; readonly kind: "customer" | "supplier" }>;
}

export interface FloodRound {
  readonly type: "round";
  readonly read: number;
  readonly recorded: number;
  readonly rejected: Readonly<Record<string, number>>;
  /** One reason of each class met in the round, cut to 160 characters. */
  readonly examples: Readonly<Record<string, string>>;
  readonly allocations: ReadonlyArray<{ readonly customer: Address; readonly suppliers: readonly Address[] }>;
  readonly ms: number;
}

export interface FloodSample {
  readonly type: "sample";
  readonly rssMb: number;
  readonly heapUsedMb: number;
  readonly peakRssMb: number;
  readonly peakHeapUsedMb: number;
  /** Heap still used after a full collection: what the process retains, not garbage in waiting. */
  readonly heapRetainedMb: number;
  /** V8's heap as reserved, and memory outside it (Buffers, ArrayBuffers), now. */
  readonly heapTotalMb: number;
  readonly externalMb: number;
  readonly arrayBuffersMb: number;
}

const MB = 2 ** 20;
const send = (m: FloodRound | FloodSample | { type: "error"; message: string }) => process.send?.(m);

/** What a rejection is, from its reason (counted per class, not kept). */
function classOf(error: string): string {
  if (/not an admitted participant/.test(error)) return "notAdmitted";
  if (/outside the ±/.test(error)) return "stale";
  if (/open offers; the market allows/.test(error)) return "overOpenOffers";
  if (/is signed by 0x[0-9a-f]+, not by/i.test(error)) return "badSignature";
  return "malformed"; // not an envelope: garbage, cut, wrong types, oversized, a refused "batch"
}

/** Publications go to the parent as they happen. */
class Forwarding implements AllocationPublisher {
  pending: Allocation[] = [];
  async publishAllocation(_id: Bytes32, a: Allocation) {
    this.pending.push(a);
  }
  async publishVoid(_v: VoidAllocation) {}
}

let peakRss = 0;
let peakHeap = 0;
const sampler = setInterval(() => {
  const u = process.memoryUsage();
  peakRss = Math.max(peakRss, u.rss);
  peakHeap = Math.max(peakHeap, u.heapUsed);
}, 25);
sampler.unref();

let stopping = false;

async function run(init: FloodAllocatorInit): Promise<void> {
  const provider = new JsonRpcProvider(init.rpcUrl, undefined, { pollingInterval: 100 });
  const bus = new WebSocketMessageBus({ url: init.pulsarUrl, token: init.token });
  const participants = new MemoryParticipants();
  for (const a of init.admitted) participants.admit(a.account, a.kind);
  const publisher = new Forwarding();
  const source = new PulsarOfferSource(bus, init.topic, 300);
  const deps = {
    source,
    registry: new DynamoAllocatorRegistry(
      documentClient(dynamoDbClient(init.dynamodbEndpoint)),
      tableNames(init.tablePrefix),
    ),
    publisher,
    frontDoor: {
      balances: new ContractFreeBalances(provider, init.marketAddress),
      standing: new MemoryStandingRegistry(),
      participants,
    },
  };
  const fees = await readMarketFees(provider, init.marketAddress);
  const config = {
    domain: { chainId: BigInt(init.chainId), verifyingContract: init.marketAddress },
    allocator: init.allocator,
    penaltyRate: fees.penaltyRate,
    frontDoor: { fees },
    ...(init.maxBatches ? { maxBatches: init.maxBatches } : {}),
  };
  try {
    while (!stopping) {
      const t0 = Date.now();
      const report: RoundReport = await runAllocatorRound(deps, config, Date.now());
      const rejected: Record<string, number> = {};
      const examples: Record<string, string> = {};
      for (const r of report.rejected) {
        const c = classOf(r.error);
        rejected[c] = (rejected[c] ?? 0) + 1;
        examples[c] ??= r.error.slice(0, 160);
      }
      const allocations = publisher.pending.map((a) => ({ customer: a.customer, suppliers: a.suppliers }));
      publisher.pending = [];
      send({
        type: "round",
        read: report.read,
        recorded: report.recorded,
        rejected,
        examples,
        allocations,
        ms: Date.now() - t0,
      });
      // Rounds every ¼ s while idle, back to back while there is a backlog.
      if (report.read === 0) await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    await source.close().catch(() => undefined);
    await bus.close().catch(() => undefined);
    provider.destroy();
  }
}

process.on("message", (m: { type: string }) => {
  if (m.type === "init")
    run(m as FloodAllocatorInit).then(
      () => process.exit(0),
      (err: unknown) => {
        send({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
        process.exit(1);
      },
    );
  else if (m.type === "sample") {
    const now = process.memoryUsage();
    const out = {
      rssMb: now.rss / MB,
      heapUsedMb: now.heapUsed / MB,
      peakRssMb: Math.max(peakRss, now.rss) / MB,
      peakHeapUsedMb: Math.max(peakHeap, now.heapUsed) / MB,
      heapTotalMb: now.heapTotal / MB,
      externalMb: now.external / MB,
      arrayBuffersMb: now.arrayBuffers / MB,
    };
    peakRss = 0;
    peakHeap = 0;
    (globalThis as { gc?: () => void }).gc?.();
    send({ type: "sample", ...out, heapRetainedMb: process.memoryUsage().heapUsed / MB });
  } else if (m.type === "stop") stopping = true;
});
