// The Allocator's use case: one scheduled round (paper §3.2 ①–③).
//  1. ingest: read the offers channel from the stored cursor, verify each envelope (schema,
//     EIP-712 signature, freshness), record offers put-if-absent, then move the cursor with
//     compare-and-set. A crash before the cursor moves replays the batch: nothing is stored twice.
//  2. auction: run one deterministic round (core runAuction) over every open offer, with each
//     Supplier's commitments and each Customer's open windows as stored.
//  3. commit: per Customer offer, one conditional transaction writes its allocations, its new open
//     windows and the Suppliers' new commitments, conditioned on the versions read in step 2. A
//     concurrent or retried round that got there first makes it fail; the offer then simply waits
//     for the next round. So no offer (and no Supplier capacity) is ever allocated twice.
//  4. void: offers that expired unmatched are closed and their void queued, also conditionally.
//  5. publish: everything in the outbox (this round's and any a crashed round left) is published
//     on the allocations channel, then marked published. Publishing is at-least-once; consumers
//     deduplicate by allocation id. So no allocation is ever lost.
import {
  type Address,
  type AllocationPublisher,
  type AllocatorRegistry,
  allocationId,
  type Bytes32,
  type Commitment,
  type CustomerCommit,
  type MarketDomain,
  type OfferSource,
  offerId,
  type PlannedAllocation,
  type ProtocolDelays,
  runAuction,
  type TimeWindow,
  toWire,
  verifyEnvelope,
} from "@surplus/core";

export interface AllocatorDeps {
  readonly source: OfferSource;
  readonly registry: AllocatorRegistry;
  readonly publisher: AllocationPublisher;
}

export interface AllocatorConfig {
  readonly domain: MarketDomain;
  /** The Allocator's account (named in every allocation; signs them). */
  readonly allocator: Address;
  /** ρ: n = ⌈λΔ/ρ⌉ test inputs per allocation. */
  readonly penaltyRate: bigint;
  readonly delays?: ProtocolDelays;
  /** @default "offers" */
  readonly cursorName?: string;
  /** Messages read per batch. @default 500 */
  readonly batchSize?: number;
  /** Batches per round at most (bounds the round's duration). @default 20 */
  readonly maxBatches?: number;
  /** Offers whose envelope is older than this are rejected. @default 1 day */
  readonly maxOfferAgeMs?: number;
}

export interface RoundReport {
  readonly read: number;
  readonly recorded: number;
  readonly rejected: ReadonlyArray<{ position: string; error: string }>;
  readonly allocations: number;
  readonly voids: number;
  /** Customer commits cancelled because another round changed one of their offers first. */
  readonly conflicts: number;
  readonly published: number;
}

/** DynamoDB's TransactWriteItems limit. */
const MAX_TRANSACTION_ITEMS = 100;

function mergeWindows(windows: readonly TimeWindow[]): TimeWindow[] {
  const sorted = [...windows].sort((a, b) => a.start - b.start);
  const out: Array<{ start: number; end: number }> = [];
  for (const w of sorted) {
    const last = out[out.length - 1];
    if (last && w.start <= last.end) last.end = Math.max(last.end, w.end);
    else out.push({ start: w.start, end: w.end });
  }
  return out;
}

async function ingest(deps: AllocatorDeps, config: AllocatorConfig, nowMs: number) {
  const name = config.cursorName ?? "offers";
  const batchSize = config.batchSize ?? 500;
  const rejected: Array<{ position: string; error: string }> = [];
  let read = 0;
  let recorded = 0;
  let cursor = await deps.registry.cursor(name);
  for (let batch = 0; batch < (config.maxBatches ?? 20); batch++) {
    const messages = await deps.source.read(cursor, batchSize);
    if (messages.length === 0) break;
    for (const m of messages) {
      read++;
      try {
        const verified = verifyEnvelope(config.domain, m.payload, {
          nowMs,
          maxAgeMs: config.maxOfferAgeMs ?? 86_400_000,
        });
        if (
          verified.type !== "CustomerOffer" &&
          verified.type !== "SupplierOffer" &&
          verified.type !== "MediatorOffer"
        ) {
          throw new Error(`${verified.type} does not belong on the offers channel`);
        }
        const stored = await deps.registry.recordOffer({
          offerId: offerId(config.domain, verified.body),
          offer: verified.body,
          envelope: toWire(verified.envelope),
          recordedAtMs: nowMs,
        });
        if (stored) recorded++;
      } catch (err) {
        rejected.push({ position: m.position, error: (err as Error).message });
      }
    }
    const last = messages[messages.length - 1]!.position;
    // Another round moved the cursor first: it has (or will have) recorded these too.
    if (!(await deps.registry.advanceCursor(name, cursor, last))) break;
    cursor = last;
    if (messages.length < batchSize) break;
  }
  return { read, recorded, rejected };
}

/** Runs one round at `nowMs` (passed in so tests control the clock). */
export async function runAllocatorRound(
  deps: AllocatorDeps,
  config: AllocatorConfig,
  nowMs: number,
): Promise<RoundReport> {
  const { read, recorded, rejected } = await ingest(deps, config, nowMs);

  const open = await deps.registry.openOffers();
  const nowSeconds = Math.floor(nowMs / 1000);
  const result = runAuction({
    customers: open.customers.map((c) => ({
      id: c.offerId,
      offer: c.offer,
      ...(c.openWindows ? { openWindows: c.openWindows } : {}),
    })),
    suppliers: open.suppliers.map((s) => ({ id: s.offerId, offer: s.offer, commitments: s.commitments })),
    params: {
      allocator: config.allocator,
      nowSeconds,
      penaltyRate: config.penaltyRate,
      ...(config.delays ? { delays: config.delays } : {}),
      nonceBase: BigInt(nowSeconds) << 20n,
    },
  });

  // What this round knows of each offer: version and Supplier commitments, updated as commits land.
  const customerVersion = new Map(open.customers.map((c) => [c.offerId, c.version]));
  const supplierState = new Map(
    open.suppliers.map((s) => [s.offerId, { version: s.version, commitments: [...s.commitments] }]),
  );
  const byCustomer = new Map<Bytes32, PlannedAllocation[]>();
  for (const p of result.allocations) {
    const list = byCustomer.get(p.customerOfferId) ?? [];
    list.push(p);
    byCustomer.set(p.customerOfferId, list);
  }

  let allocations = 0;
  let conflicts = 0;
  for (const outcome of result.customers) {
    const planned = byCustomer.get(outcome.customerOfferId) ?? [];
    const version = customerVersion.get(outcome.customerOfferId);
    if (version === undefined) continue;
    if (
      planned.length === 0 &&
      (!outcome.closed || result.voids.some((v) => v.offer === outcome.customerOfferId))
    )
      continue;
    // Keep the transaction within DynamoDB's limit; what does not fit stays open for the next round.
    const kept: PlannedAllocation[] = [];
    const touched = new Set<Bytes32>();
    let reopened: TimeWindow[] = [];
    for (const p of planned) {
      const extra = p.supplierOfferIds.filter((id) => !touched.has(id)).length;
      if (1 + kept.length + 1 + touched.size + extra > MAX_TRANSACTION_ITEMS) {
        reopened.push({ start: p.allocation.start, end: p.allocation.end });
        continue;
      }
      kept.push(p);
      for (const id of p.supplierOfferIds) touched.add(id);
    }
    reopened = mergeWindows([...outcome.stillOpen, ...reopened]);
    const additions = new Map<Bytes32, Commitment[]>();
    for (const p of kept)
      for (const id of p.supplierOfferIds) additions.set(id, [...(additions.get(id) ?? []), p.commitment]);
    const commit: CustomerCommit = {
      customer: {
        offerId: outcome.customerOfferId,
        expectedVersion: version,
        openWindows: reopened,
        closed: reopened.length === 0,
      },
      suppliers: [...additions].map(([id, added]) => {
        const state = supplierState.get(id)!;
        return { offerId: id, expectedVersion: state.version, commitments: [...state.commitments, ...added] };
      }),
      allocations: kept.map((p) => ({
        allocationId: allocationId(config.domain, p.allocation),
        allocation: p.allocation,
      })),
    };
    if (await deps.registry.commit(commit)) {
      allocations += kept.length;
      customerVersion.set(outcome.customerOfferId, version + 1);
      for (const s of commit.suppliers) {
        supplierState.set(s.offerId, { version: s.expectedVersion + 1, commitments: [...s.commitments] });
      }
    } else {
      conflicts++;
    }
  }

  let voids = 0;
  const versions = new Map<Bytes32, number>([
    ...customerVersion,
    ...[...supplierState].map(([id, s]) => [id, s.version] as [Bytes32, number]),
  ]);
  for (const v of result.voids) {
    const version = versions.get(v.offer);
    if (version !== undefined && (await deps.registry.voidOffer(v.offer, version, v))) voids++;
  }

  let published = 0;
  for (const p of await deps.registry.pending()) {
    if (p.kind === "allocation") {
      await deps.publisher.publishAllocation(p.allocationId, p.allocation);
      await deps.registry.markPublished(p.allocationId);
    } else {
      await deps.publisher.publishVoid(p.voidAllocation);
      await deps.registry.markPublished(p.key);
    }
    published++;
  }
  return { read, recorded, rejected, allocations, voids, conflicts, published };
}
