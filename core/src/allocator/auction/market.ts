// Market preparation (docs/auction.md, step 1): the open offers of one round as numbers. Suppliers
// ranked by ask and indexed per Mediator, Customers with their bid limit, Mediators, segments and
// the sweep's fixed events, so every greedy pass reads typed arrays and never an offer object.
import { InvalidParameterError } from "../../errors.ts";
import { DEFAULT_DELAYS, isExpired, type ProtocolDelays, requiredMips } from "../../feasibility.ts";
import { requirementShortfall } from "../../reputation.ts";
import { type Address, type Bytes32, SCHEMA_VERSION, type VoidAllocation } from "../../schemas.ts";
import { LiveIndex, type SupplierTable } from "../supplier-index.ts";
import type { AuctionInput, OpenCustomerOffer, OpenSupplierOffer } from "../types.ts";
import { type FixedEvents, fixedEvents } from "./events.ts";

const MAX_TEST_COUNT = 1_000_000;
const DEFAULT_MAX_SCAN = 512;
const DEFAULT_SWITCH_SECONDS = 3_600;
/** Schema bounds: at most 16 replicas and 16 Mediators per offer. */
export const MAX_REPLICAS = 16;
export const MAX_MEDIATORS = 16;

/**
 * Fields of Market.customerRow (one row of ROW numbers per Customer, so the sweep's waiting loop
 * reads one place per Customer): the end of the segment it is in (set by the pass), δ_min, MIPS
 * and MB per replica, the bid's rank limit, where its Mediators start and end in mediatorList,
 * and the pass's flags (WAITING, FRESH).
 */
export const ROW = 8;
export const ROW_SEGMENT_END = 0;
export const ROW_MIN_SERVICE = 1;
export const ROW_MIPS = 2;
export const ROW_RAM = 3;
export const ROW_LIMIT = 4;
export const ROW_MEDIATORS = 5;
export const ROW_MEDIATORS_END = 6;
export const ROW_FLAGS = 7;

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const bigintAsc = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/** What every pass of one round shares: the ranked Suppliers, their indexes, each Customer's facts, the fixed events. */
export interface Market extends FixedEvents {
  readonly input: AuctionInput;
  readonly delays: ProtocolDelays;
  readonly earliest: number;
  readonly maxScan: number;
  readonly switchSeconds: number;
  /** Live Supplier offers by rank, and their asks. */
  readonly suppliers: readonly OpenSupplierOffer[];
  readonly asks: readonly bigint[];
  readonly table: SupplierTable;
  /** table.mediators flattened: Supplier i's are supplierMediatorList[supplierMediatorFrom[i] .. [i + 1]). */
  readonly supplierMediatorFrom: Int32Array;
  readonly supplierMediatorList: Int32Array;
  readonly live: LiveIndex;
  /** Customer offers by id, with per-offer facts. */
  readonly customers: readonly OpenCustomerOffer[];
  readonly customerMips: Float64Array;
  readonly customerRam: Float64Array;
  /** π_xmax of each Customer. */
  readonly customerBid: readonly bigint[];
  /** r (at most 16) and r_min. */
  readonly customerReplicas: Int32Array;
  readonly customerMinReplicas: Int32Array;
  readonly customerAccount: Int32Array;
  /** Suppliers [0, limit) ask at most the Customer's bid. */
  readonly customerLimit: Int32Array;
  /** Each Customer's Mediators: mediatorList[mediatorFrom[k] .. mediatorFrom[k + 1]), and how many Suppliers under each ask at most its bid (mediatorBelow). */
  readonly mediatorFrom: Int32Array;
  readonly mediatorList: Int32Array;
  readonly mediatorBelow: Int32Array;
  /** What the sweep reads of Customer k most, together: customerRow[k·ROW + field] (fields ROW_*). */
  readonly customerRow: Float64Array;
  readonly customerMaxChunk: Float64Array;
  readonly customerExpired: Uint8Array;
  /** Each Customer's segments (open windows from now + δ on): segStart/segEnd[segFrom[k] .. segFrom[k + 1]). */
  readonly segFrom: Int32Array;
  readonly segStart: Float64Array;
  readonly segEnd: Float64Array;
  readonly mediatorAddresses: readonly Address[];
  readonly supplierVoids: readonly VoidAllocation[];
  /** Per Customer with a reputation requirement: 1 at the ranks of Suppliers that fall short of it. */
  readonly shortOf: ReadonlyArray<Uint8Array | undefined>;
}

/** Everything the passes of one round share, computed once (docs/auction.md, step 1). */
export function prepare(input: AuctionInput): Market {
  const { params } = input;
  const delays = params.delays ?? DEFAULT_DELAYS;
  const now = params.nowSeconds;
  const earliest = now + delays.allocSeconds + delays.setupSeconds;
  if (params.penaltyRate <= 0n) throw new InvalidParameterError("penaltyRate", params.penaltyRate, "> 0");
  const maxTestCount = params.maxTestCount ?? MAX_TEST_COUNT;

  const supplierVoids: VoidAllocation[] = [];
  const sorted = [...input.suppliers].sort(
    (a, b) => bigintAsc(a.offer.minPricePerMi, b.offer.minPricePerMi) || byId(a, b),
  );
  const suppliers: OpenSupplierOffer[] = [];
  for (const s of sorted) {
    if (s.offer.end <= Math.max(s.offer.start, earliest)) {
      if (!s.commitments?.length) supplierVoids.push(voidOf(params.allocator, s.id, s.offer.account));
      continue;
    }
    suppliers.push(s);
  }
  const customers = [...input.customers].sort(byId);

  // Accounts and Mediators as small integers (Mediators numbered in address order).
  const accounts = new Map<Address, number>();
  const accountOf = (a: Address) => {
    let n = accounts.get(a);
    if (n === undefined) {
      n = accounts.size;
      accounts.set(a, n);
    }
    return n;
  };
  // Mediators left out of the round (a bond they cannot cover, issue 16) are as if nobody named them.
  const excluded = params.excludedMediators;
  const mediatorAddresses = [...new Set(suppliers.flatMap((s) => s.offer.mediators))]
    .filter((a) => !excluded?.has(a))
    .sort();
  const mediatorOf = new Map(mediatorAddresses.map((m, g) => [m, g]));

  const n = suppliers.length;
  const table: SupplierTable = {
    count: n,
    start: new Float64Array(n),
    end: new Float64Array(n),
    capacityMips: new Float64Array(n),
    ramMb: new Float64Array(n),
    account: new Int32Array(n),
    mediators: suppliers.map((s) =>
      Int32Array.from(
        s.offer.mediators.filter((m) => m !== s.offer.account && mediatorOf.has(m)),
        (m) => mediatorOf.get(m)!,
      ),
    ),
  };
  const asks = suppliers.map((s) => s.offer.minPricePerMi);
  suppliers.forEach((s, i) => {
    table.start[i] = Math.max(s.offer.start, earliest);
    table.end[i] = s.offer.end;
    table.capacityMips[i] = s.offer.capacityMips;
    table.ramMb[i] = s.offer.ramMb;
    table.account[i] = accountOf(s.offer.account);
  });
  const supplierMediatorFrom = new Int32Array(n + 1);
  for (let i = 0; i < n; i++)
    supplierMediatorFrom[i + 1] = supplierMediatorFrom[i]! + table.mediators[i]!.length;
  const supplierMediatorList = new Int32Array(supplierMediatorFrom[n]!);
  for (let i = 0; i < n; i++) supplierMediatorList.set(table.mediators[i]!, supplierMediatorFrom[i]!);
  const live = new LiveIndex(table, mediatorAddresses.length, ramLevels(customers));

  const m = customers.length;
  const customerMips = new Float64Array(m);
  const customerAccount = new Int32Array(m);
  const customerLimit = new Int32Array(m);
  const customerMaxChunk = new Float64Array(m);
  const mediatorFrom = new Int32Array(m + 1);
  const mediatorListOf: number[] = [];
  customers.forEach((c, k) => {
    const o = c.offer;
    customerMips[k] = requiredMips(o);
    customerAccount[k] = accountOf(o.account);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (asks[mid]! <= o.maxPricePerMi) lo = mid + 1;
      else hi = mid;
    }
    customerLimit[k] = lo;
    const maxByTests = Math.floor((maxTestCount * Number(params.penaltyRate)) / o.inputsPerSecond);
    customerMaxChunk[k] = Math.min(params.maxChunkSeconds ?? Infinity, maxByTests);
    const usable: number[] = [];
    for (const a of o.mediators) {
      const g = mediatorOf.get(a);
      if (a !== o.account && g !== undefined) usable.push(g);
    }
    for (const g of usable.slice(0, MAX_MEDIATORS)) mediatorListOf.push(g);
    mediatorFrom[k + 1] = mediatorListOf.length;
  });

  // Reputation requirements (issue 17): which Suppliers each demanding Customer must pass over.
  const shortOf = customers.map((c) => {
    const req = c.requires;
    if (!req) return undefined;
    return Uint8Array.from(suppliers, (s) =>
      requirementShortfall(params.reputation?.reputationOf(s.offer.account.toLowerCase() as Address), req)
        ? 1
        : 0,
    );
  });

  const mediatorList = Int32Array.from(mediatorListOf);
  const mediatorBelow = new Int32Array(mediatorList.length);
  const customerRow = new Float64Array(m * ROW);
  customers.forEach((c, k) => {
    for (let j = mediatorFrom[k]!; j < mediatorFrom[k + 1]!; j++)
      mediatorBelow[j] = live.below(mediatorList[j]!, customerLimit[k]!);
    const b = k * ROW;
    customerRow[b + ROW_MIN_SERVICE] = c.offer.minServiceSeconds;
    customerRow[b + ROW_MIPS] = customerMips[k]!;
    customerRow[b + ROW_RAM] = c.offer.ramMb;
    customerRow[b + ROW_LIMIT] = customerLimit[k]!;
    customerRow[b + ROW_MEDIATORS] = mediatorFrom[k]!;
    customerRow[b + ROW_MEDIATORS_END] = mediatorFrom[k + 1]!;
  });

  // Segments: the open windows from now + δ on (a Customer past its expiry has none).
  const customerExpired = new Uint8Array(m);
  const segFrom = new Int32Array(m + 1);
  const segStartList: number[] = [];
  const segEndList: number[] = [];
  customers.forEach((c, k) => {
    const o = c.offer;
    customerExpired[k] = isExpired(o, now, delays) ? 1 : 0;
    if (!customerExpired[k]) {
      for (const open of c.openWindows ?? [{ start: o.start, end: o.end }]) {
        const start = Math.max(open.start, o.start, earliest);
        const end = Math.min(open.end, o.end);
        if (end > start) {
          segStartList.push(start);
          segEndList.push(end);
        }
      }
    }
    segFrom[k + 1] = segStartList.length;
  });
  const segStart = Float64Array.from(segStartList);
  const segEnd = Float64Array.from(segEndList);

  const servable = Uint8Array.from(customers, (c, k) =>
    customerLimit[k]! > 0 &&
    mediatorFrom[k + 1]! > mediatorFrom[k]! &&
    customerMaxChunk[k]! >= c.offer.minServiceSeconds
      ? 1
      : 0,
  );
  const minService = Float64Array.from(customers, (c) => c.offer.minServiceSeconds);
  const { events, segmentAt, nextEventFrom } = fixedEvents(table, suppliers, {
    servable,
    minService,
    segFrom,
    segStart,
    segEnd,
  });

  return {
    input,
    delays,
    earliest,
    maxScan: params.maxScan ?? DEFAULT_MAX_SCAN,
    switchSeconds: params.switchSeconds ?? DEFAULT_SWITCH_SECONDS,
    suppliers,
    asks,
    table,
    supplierMediatorFrom,
    supplierMediatorList,
    live,
    events,
    segmentAt,
    nextEventFrom,
    customers,
    customerMips,
    customerRam: Float64Array.from(customers, (c) => c.offer.ramMb),
    customerBid: customers.map((c) => c.offer.maxPricePerMi),
    customerReplicas: Int32Array.from(customers, (c) => Math.min(c.offer.replicas, MAX_REPLICAS)),
    customerMinReplicas: Int32Array.from(customers, (c) => c.offer.minReplicas),
    customerAccount,
    customerLimit,
    mediatorFrom,
    mediatorList,
    mediatorBelow,
    customerRow,
    customerMaxChunk,
    customerExpired,
    segFrom,
    segStart,
    segEnd,
    mediatorAddresses,
    supplierVoids,
    shortOf,
  };
}

/** Most RAM levels of the live index (each costs a value per tree node). */
const RAM_LEVELS = 8;

/**
 * Up to RAM_LEVELS of the Customers' distinct RAM demands, evenly spread over them and starting
 * with the least (every query asks at least that much); 0 alone when there is no Customer.
 */
function ramLevels(customers: readonly OpenCustomerOffer[]): Float64Array {
  const demands = [...new Set(customers.map((c) => c.offer.ramMb))].sort((a, b) => a - b);
  const levels: number[] = [];
  const take = Math.min(demands.length, RAM_LEVELS);
  for (let j = 0; j < take; j++) levels.push(demands[Math.floor((j * demands.length) / take)]!);
  return Float64Array.from(levels.length ? levels : [0]);
}

export function voidOf(allocator: Address, offer: Bytes32, account: Address): VoidAllocation {
  return { schemaVersion: SCHEMA_VERSION, allocator, offer, account, reason: "expired" };
}
