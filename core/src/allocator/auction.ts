// One round of the interval double auction (paper §2.1, §3.1, §3.3; Appendix C.1, C.3).
//
// Problem. Each open Customer offer c wants r_c replicas (at least r_min) of its service over
// the open parts of its window; each replica needs I_c·λ MIPS and R_c MB on one Supplier for the
// whole of an allocation. A Supplier offer s sells I_s MIPS and R_s MB over its window and may
// host several replicas at once (of different Customers, or of one Customer in consecutive
// chunks) while their sum fits. An allocation needs r distinct Supplier accounts, one Mediator
// trusted by the Customer and all of them, lasts at least δ_min and starts no earlier than
// now + δ_alloc + δ_setup (core/src/feasibility.ts). Welfare is
//   Σ_allocations Σ_replicas (π_xmax(c) − π_xmin(s)) · I_c · λ · Δ,
// i.e. buyer value minus seller cost. Maximising it is NP-hard (it contains multi-dimensional
// bin packing), so we use a greedy that is exact in the one-dimensional special case:
//
// Greedy (deterministic: everything is ordered by price, then by offer id; no clock, no randomness),
// a sweep over time:
//  1. Suppliers are ranked by ask π_xmin ascending (then id) and indexed per Mediator
//     (supplier-index.ts LiveIndex): by rank, under a segment tree of what each has free now.
//     The sweep's fixed events (Suppliers arriving and leaving, earlier rounds' commitments
//     ending, Customer windows opening) are sorted once: O((S + C) log(S + C)).
//  2. Time advances from event to event. At an instant t, the chunks ending at t give their room
//     back, Suppliers leave and arrive, and then the Customers waiting for Suppliers are served in
//     a priority order (below): with unit demands, serving bids in descending order with the
//     cheapest asks is the classic efficient double-auction matching, and the sweep applies it to
//     every stretch of time between two events — the per-interval problem the exact optimum solves.
//     Every commitment of the round has started by t, so what a Supplier has free at t it keeps
//     until it leaves: a Supplier's room is one number per resource, not a timeline (commitments
//     from earlier rounds are checked against their CapacityTimeline).
//  3. For a waiting Customer, for each Mediator it trusts, the cheapest Suppliers under that Mediator
//     that ask at most the bid, stay at least until t + δ_min, are not the Customer's account (nor
//     one already chosen) and have room for one more replica are found by descending the tree,
//     O(log S) each (at most `maxScan` are examined). The Mediator with the most replicas (at least
//     r_min) wins, then the one whose dearest chosen Supplier is cheapest. The chunk runs until
//     the first chosen Supplier leaves (or an earlier commitment fills it), the window,
//     maxChunkSeconds or the n ≤ maxTestCount bound ends it, or — to let the market re-match —
//     until the first event at least max(δ_min, switchSeconds) after t. When the chunk ends before
//     the window does, its Customer waits again; when the same Suppliers and Mediator win again the
//     allocation just goes on (one allocation, not two). A remainder shorter than δ_min is avoided
//     by ending the chunk δ_min before the window's end. A Customer that found no group tries again
//     only at an instant where a Supplier it could use (under one of its Mediators, asking at most
//     its bid, with enough CPU and RAM free) gained room; the piece it waited stays open for later
//     rounds.
//  4. Passes: on markets of at most 2 000 offers the sweep runs once per Customer order in ORDERS,
//     then `refinements` more times (squeaky wheel: the keys of Customers the best pass left short
//     grow in proportion to what they missed; 4 to 16 passes, as many as 4 000 offer·passes allow),
//     and the round with the highest welfare is kept (the first on a tie); larger markets get one
//     pass in the first order. Each pass records its chunks as numbers only; the allocations
//     (bigint prices, test counts) are built for the kept pass alone.
//  Cost: O((S + C) log(S + C) + P · (A · r · log S + W)) with P the passes, A the attempts
//  (chunks started, and failed tries) and W the waiting Customers summed over the instants (each
//  costs a check per Mediator). The index shows a Supplier with at least the room it has (taking
//  room does not update it; a search that meets a Supplier showing too much updates it), so each
//  chunk costs O(r) tree updates. W is about C × (instants a Customer waits): small where windows
//  start on a grid, as in the bench (bench/src/allocator.ts measures it); a market whose offers
//  start at many distinct instants while many Customers wait makes it grow like C × S. (Waking
//  waiting Customers from the Suppliers that gain room instead — a tree of their demands per
//  Mediator — removes that term but made the bench's rounds 20-30 % slower, so it is not done.)
//
// Price: each allocation is priced by `priceRule` (default k-double auction with k = ½,
// price-rules.ts) from the Customer's bid and the chosen Suppliers' asks, so
// π_xmin(s) ≤ π_x ≤ π_xmax(c) for every matched offer; a round-level `mechanism` (mechanism.ts)
// may instead clear the whole round at one price.
import { InvalidParameterError } from "../errors.ts";
import { DEFAULT_DELAYS, isExpired, type ProtocolDelays, requiredMips } from "../feasibility.ts";
import { inputsPerReplica, type PriceRule, testCountFor } from "../pricing.ts";
import { requirementShortfall } from "../reputation.ts";
import {
  type Address,
  type Allocation,
  type Bytes32,
  SCHEMA_VERSION,
  type VoidAllocation,
} from "../schemas.ts";
import { CapacityTimeline } from "./capacity.ts";
import { halfwayPrice } from "./price-rules.ts";
import { LiveIndex, type SupplierTable } from "./supplier-index.ts";
import type {
  AuctionInput,
  AuctionResult,
  CustomerOutcome,
  OpenCustomerOffer,
  OpenSupplierOffer,
  PlannedAllocation,
} from "./types.ts";

// Round-level mechanisms (runAuction's `mechanism` param) are part of the auction's API.
export * from "./mechanism.ts";

const MAX_TEST_COUNT = 1_000_000;
const DEFAULT_MAX_SCAN = 512;
const DEFAULT_SWITCH_SECONDS = 3_600;
/** Schema bounds: at most 16 replicas and 16 Mediators per offer. */
const MAX_REPLICAS = 16;
const MAX_MEDIATORS = 16;

/**
 * Fields of Market.customerRow (one row of ROW numbers per Customer, so the sweep's waiting loop
 * reads one place per Customer): the end of the segment it is in (set by the pass), δ_min, MIPS
 * and MB per replica, the bid's rank limit, where its Mediators start and end in mediatorList,
 * and the pass's flags (WAITING, FRESH).
 */
const ROW = 8;
const ROW_SEGMENT_END = 0;
const ROW_MIN_SERVICE = 1;
const ROW_MIPS = 2;
const ROW_RAM = 3;
const ROW_LIMIT = 4;
const ROW_MEDIATORS = 5;
const ROW_MEDIATORS_END = 6;
const ROW_FLAGS = 7;
/** Among the waiting Customers (or about to be). */
const WAITING = 1;
/** Not tried since it started waiting (or since its window opened again). */
const FRESH = 2;

/** Kinds of the sweep's fixed events, in the order they are handled at one instant (after chunk ends). */
const SUPPLIER_LEAVES = 0;
const SUPPLIER_ARRIVES = 1;
const PRIOR_ENDS = 2;
const WINDOW_OPENS = 3;

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const bigintAsc = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

/** How a greedy pass orders Customers (highest first; then by offer id). */
export const CustomerOrder = {
  /** bid × I_c·λ: the surplus a unit of price gap creates per second and replica. */
  Rate: "rate",
  /** The whole value π_xmax·I_c·λ·r·(c_end − c_start). */
  Value: "value",
  /** The bid π_xmax alone. */
  Bid: "bid",
  /**
   * Rate per share of the market's resources a replica takes: bid × I_c·λ / (I_c·λ / ΣI_s +
   * R_c / ΣR_s), the value-density order of multi-dimensional knapsack greedies.
   */
  Density: "density",
} as const;
export type CustomerOrder = (typeof CustomerOrder)[keyof typeof CustomerOrder];

/** The orders runAuction tries, in this order (the first wins ties). */
export const ORDERS: readonly CustomerOrder[] = [
  CustomerOrder.Rate,
  CustomerOrder.Value,
  CustomerOrder.Density,
];

/** What every pass of one round shares: the ranked Suppliers, their indexes, each Customer's facts. */
interface Market {
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
  /** The sweep's fixed events by time (then kind, then id); segmentAt[e] is the segment a window event opens. */
  readonly events: { readonly time: Float64Array; readonly kind: Int8Array; readonly id: Int32Array };
  readonly segmentAt: Int32Array;
  /** The first fixed event time ≥ x (Infinity when none). */
  readonly nextEventFrom: (x: number) => number;
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

/** A pass's chunks, as numbers; allocations are built from the kept pass only. */
interface Pass {
  readonly welfare: bigint;
  readonly chunkCustomer: number[];
  readonly chunkStart: number[];
  readonly chunkEnd: number[];
  readonly chunkMediator: number[];
  /** Suppliers of chunk k: chunkSuppliers[chunkFrom[k] .. chunkFrom[k + 1]). */
  readonly chunkFrom: number[];
  readonly chunkSuppliers: number[];
  readonly chunkWelfare: bigint[];
  readonly outcomes: CustomerOutcome[];
  readonly customerVoids: VoidAllocation[];
}

/**
 * Runs one auction round. Pure and deterministic: the same input gives the same result, whatever
 * the order of the offers. The greedy runs once per Customer order in ORDERS and the round with
 * the highest welfare is kept (the first on a tie).
 */
export function runAuction(input: AuctionInput): AuctionResult {
  // A round-level mechanism (mechanism.ts) runs the greedy itself, once or more, and prices the round.
  const mechanism = input.params.mechanism;
  if (mechanism) return mechanism.run(input, (i) => runGreedy(i, ordersFor(i)));
  return runGreedy(input, ordersFor(input));
}

/** The greedy with the given Customer orders (one pass each; the best welfare is kept). */
export function runGreedy(
  input: AuctionInput,
  orders: readonly CustomerOrder[],
  refinements = refinementsFor(input),
): AuctionResult {
  if (orders.length === 0) throw new InvalidParameterError("orders", 0, "at least one Customer order");
  const market = prepare(input);
  let best: Pass | undefined;
  let bestKeys: Float64Array | undefined;
  for (const order of orders) {
    const keys = orderKeys(market, order);
    const pass = runPass(market, sortByKeys(keys));
    if (!best || pass.welfare > best.welfare) {
      best = pass;
      bestKeys = keys;
    }
  }
  // Squeaky-wheel refinement: Customers the best pass left short move up, and the greedy runs again.
  let keys = bestKeys!;
  let last = best!;
  for (let k = 0; k < refinements; k++) {
    keys = keys.slice();
    const served = new Float64Array(market.customers.length);
    for (let q = 0; q < last.chunkCustomer.length; q++)
      served[last.chunkCustomer[q]!]! +=
        (last.chunkFrom[q + 1]! - last.chunkFrom[q]!) * (last.chunkEnd[q]! - last.chunkStart[q]!);
    market.customers.forEach((c, i) => {
      const o = c.offer;
      const wanted = o.replicas * (o.end - Math.max(o.start, market.earliest));
      if (wanted > 0 && market.customerLimit[i]! > 0)
        keys[i]! *= 1 + SQUEAK * Math.max(0, 1 - served[i]! / wanted);
    });
    last = runPass(market, sortByKeys(keys));
    if (last.welfare > best!.welfare) best = last;
  }
  return build(market, best!);
}

/** How much a Customer's key grows when the last pass served none of what it wanted (proportionally less when some). */
const SQUEAK = 0.5;
/** Refinement passes on markets of at most this many offers (each pass is a whole greedy). */
const REFINE_UP_TO_OFFERS = 2_000;
/** Refinements: as many as REFINE_BUDGET offer·passes allow, within [MIN_REFINEMENTS, MAX_REFINEMENTS]. */
const REFINE_BUDGET = 4_000;
const MIN_REFINEMENTS = 4;
const MAX_REFINEMENTS = 16;

/** How many greedy passes runAuction makes on this input (its work is about proportional). */
export function auctionPasses(input: AuctionInput): number {
  return ordersFor(input).length + refinementsFor(input);
}

/** Every order of ORDERS on small markets; on larger ones the first alone (it won on every bench size). */
function ordersFor(input: AuctionInput): readonly CustomerOrder[] {
  return isSmall(input) ? ORDERS : ORDERS.slice(0, 1);
}

function isSmall(input: AuctionInput): boolean {
  return input.customers.length + input.suppliers.length <= REFINE_UP_TO_OFFERS;
}

function refinementsFor(input: AuctionInput): number {
  if (input.params.refinements !== undefined) return input.params.refinements;
  if (!isSmall(input)) return 0;
  const offers = Math.max(1, input.customers.length + input.suppliers.length);
  return Math.min(MAX_REFINEMENTS, Math.max(MIN_REFINEMENTS, Math.floor(REFINE_BUDGET / offers)));
}

function prepare(input: AuctionInput): Market {
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
  const mediatorAddresses = [...new Set(suppliers.flatMap((s) => s.offer.mediators))].sort();
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
        s.offer.mediators.filter((m) => m !== s.offer.account),
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

  // Fixed events: Suppliers arriving and leaving, earlier commitments ending, windows opening.
  const times: number[] = [];
  const kinds: number[] = [];
  const ids: number[] = [];
  const segments: number[] = [];
  const event = (time: number, kind: number, id: number, seg = -1) => {
    times.push(time);
    kinds.push(kind);
    ids.push(id);
    segments.push(seg);
  };
  for (let i = 0; i < n; i++) {
    event(table.start[i]!, SUPPLIER_ARRIVES, i);
    event(table.end[i]!, SUPPLIER_LEAVES, i);
    for (const c of suppliers[i]!.commitments ?? [])
      if (c.end > table.start[i]! && c.end < table.end[i]!) event(c.end, PRIOR_ENDS, i);
  }
  customers.forEach((c, k) => {
    const dMin = c.offer.minServiceSeconds;
    const servable =
      customerLimit[k]! > 0 && mediatorFrom[k + 1]! > mediatorFrom[k]! && customerMaxChunk[k]! >= dMin;
    if (!servable) return;
    for (let s = segFrom[k]!; s < segFrom[k + 1]!; s++)
      if (segEnd[s]! - segStart[s]! >= dMin) event(segStart[s]!, WINDOW_OPENS, k, s);
  });
  // Events were added by id (Suppliers by rank, Customers by index, segments in order), so the
  // order (time, kind, then as added) is the order (time, kind, id, segment).
  const byTime = sortByTimeThenKind(times, kinds);
  const events = {
    time: Float64Array.from(byTime, (e) => times[e]!),
    kind: Int8Array.from(byTime, (e) => kinds[e]!),
    id: Int32Array.from(byTime, (e) => ids[e]!),
  };
  const segmentAt = Int32Array.from(byTime, (e) => segments[e]!);
  const eventTimes = events.time;
  const nextEventFrom = (x: number) => {
    let lo = 0;
    let hi = eventTimes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (eventTimes[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo < eventTimes.length ? eventTimes[lo]! : Infinity;
  };

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

/**
 * Event indices by (time, kind), ties in the order added. Where (time, kind, index) packs into one
 * exact double the native numeric sort does it; otherwise a comparison sort.
 */
function sortByTimeThenKind(times: readonly number[], kinds: readonly number[]): Int32Array {
  const count = times.length;
  let least = Infinity;
  let most = -Infinity;
  for (const t of times) {
    if (t < least) least = t;
    if (t > most) most = t;
  }
  const kindsCount = WINDOW_OPENS + 1;
  const integral = times.every(Number.isInteger);
  if (count === 0 || !integral || ((most - least + 1) * kindsCount + 1) * count >= Number.MAX_SAFE_INTEGER) {
    return Int32Array.from(times.keys()).sort(
      (a, b) => times[a]! - times[b]! || kinds[a]! - kinds[b]! || a - b,
    );
  }
  const keys = Float64Array.from(times, (t, e) => ((t - least) * kindsCount + kinds[e]!) * count + e).sort();
  return Int32Array.from(keys, (key) => key % count);
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

function priorTimelines(suppliers: readonly OpenSupplierOffer[]): Array<CapacityTimeline | undefined> {
  return suppliers.map((s) =>
    s.commitments?.length
      ? new CapacityTimeline(s.offer.capacityMips, s.offer.ramMb, s.offer.end, s.commitments)
      : undefined,
  );
}

function voidOf(allocator: Address, offer: Bytes32, account: Address): VoidAllocation {
  return { schemaVersion: SCHEMA_VERSION, allocator, offer, account, reason: "expired" };
}

function isWholeWindow(c: OpenCustomerOffer): boolean {
  const w = c.openWindows;
  return w === undefined || (w.length === 1 && w[0]!.start === c.offer.start && w[0]!.end === c.offer.end);
}

/** Each Customer's priority key under an order (higher first). */
function orderKeys(market: Market, order: CustomerOrder): Float64Array {
  let totalMips = 0;
  let totalRam = 0;
  for (let i = 0; i < market.table.count; i++) {
    totalMips += market.table.capacityMips[i]!;
    totalRam += market.table.ramMb[i]!;
  }
  return Float64Array.from(market.customers, (c, k) => {
    const o = c.offer;
    const bid = Number(o.maxPricePerMi);
    if (order === CustomerOrder.Value) return bid * market.customerMips[k]! * o.replicas * (o.end - o.start);
    if (order === CustomerOrder.Rate) return bid * market.customerMips[k]!;
    if (order === CustomerOrder.Density) {
      const mips = market.customerMips[k]!;
      const share = mips / Math.max(totalMips, 1) + o.ramMb / Math.max(totalRam, 1);
      return share > 0 ? (bid * mips) / share : 0;
    }
    return bid;
  });
}

/** Customer indices by descending key; Customers are sorted by id, so the index breaks ties by id. */
function sortByKeys(keys: Float64Array): Int32Array {
  return Int32Array.from(keys.keys()).sort((a, b) => keys[b]! - keys[a]! || a - b);
}

// Scratch space of one attempt: each Mediator's candidate group (ranks, how long each can serve).
const candidateRank = new Int32Array(MAX_MEDIATORS * MAX_REPLICAS);
const candidateUntil = new Float64Array(MAX_MEDIATORS * MAX_REPLICAS);
const candidateCount = new Int32Array(MAX_MEDIATORS);

/** A binary min-heap of (time, chunk) for the chunks still running. */
class EndHeap {
  #time: number[] = [];
  #chunk: number[] = [];
  get size(): number {
    return this.#time.length;
  }
  get top(): number {
    return this.#time.length ? this.#time[0]! : Infinity;
  }
  topChunk(): number {
    return this.#chunk[0]!;
  }
  push(time: number, chunk: number): void {
    const ts = this.#time;
    const cs = this.#chunk;
    let at = ts.length;
    ts.push(time);
    cs.push(chunk);
    while (at > 0) {
      const up = (at - 1) >> 1;
      if (ts[up]! <= time) break;
      ts[at] = ts[up]!;
      cs[at] = cs[up]!;
      at = up;
    }
    ts[at] = time;
    cs[at] = chunk;
  }
  pop(): void {
    const ts = this.#time;
    const cs = this.#chunk;
    const time = ts.pop()!;
    const chunk = cs.pop()!;
    const n = ts.length;
    if (n === 0) return;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= n) break;
      if (child + 1 < n && ts[child + 1]! < ts[child]!) child++;
      if (ts[child]! >= time) break;
      ts[at] = ts[child]!;
      cs[at] = cs[child]!;
      at = child;
    }
    ts[at] = time;
    cs[at] = chunk;
  }
}

/**
 * One greedy pass: a sweep over time (paper §3.3 windows) in which, at each instant where
 * something changes, the Customers waiting for Suppliers are served in `order`.
 */
function runPass(market: Market, order: Int32Array): Pass {
  return new Sweep(market, order).run();
}

/**
 * The state of one pass. A class rather than closures in runPass: its methods are the same
 * functions in every pass and round, so the engine's optimized code for them is kept (closures
 * made anew per pass would be new call targets each time).
 */
class Sweep {
  readonly market: Market;
  readonly order: Int32Array;
  readonly n: number;
  readonly timelines: Array<CapacityTimeline | undefined>;
  readonly freeMips: Float64Array;
  readonly freeRam: Float64Array;
  readonly present: Uint8Array;
  /** Each Customer's position in `order`. */
  readonly priority: Int32Array;
  readonly chunkCustomer: number[] = [];
  readonly chunkStart: number[] = [];
  readonly chunkEnd: number[] = [];
  readonly chunkMediator: number[] = [];
  readonly chunkFrom: number[] = [0];
  readonly chunkSuppliers: number[] = [];
  /** Each Customer's chunks as a list in time order (first, last, next). */
  readonly firstChunk: Int32Array;
  readonly lastChunk: Int32Array;
  readonly nextChunk: number[] = [];
  /** The segment each Customer is in (index into market.segStart/segEnd). */
  readonly segment: Int32Array;
  /** market.customerRow with this pass's segment ends and flags. */
  readonly row: Float64Array;
  readonly ends = new EndHeap();
  /** Suppliers that got room back at this instant (each once). */
  readonly freed: Uint8Array;
  readonly freedList: number[] = [];
  // Per Mediator, what Suppliers that gained room at this instant (arriving, chunks ending) offer:
  // the lowest rank among them, the most MIPS and the most MB one of them has free. A Customer that
  // found no group before tries again only if one of them might join it.
  readonly gained: Int32Array;
  readonly gainedMips: Float64Array;
  readonly gainedRam: Float64Array;
  readonly touched: number[] = [];
  // The index shows each present Supplier with at least the room it has (exactly after `reveal`):
  // taking room does not update it (a search that meets a Supplier showing more room than it has
  // reveals it and goes on), and giving room back updates it only where it shows less.
  readonly shownMips: Float64Array;
  readonly shownRam: Float64Array;
  /** Waiting Customers as their priorities, ascending; those starting to wait at this instant; the list the next merge writes into. */
  waiting: number[] = [];
  spare: number[] = [];
  readonly incoming: number[] = [];
  scratch = new Int32Array(64);

  constructor(market: Market, order: Int32Array) {
    const n = market.table.count;
    const m = market.customers.length;
    this.market = market;
    this.order = order;
    this.n = n;
    this.timelines = priorTimelines(market.suppliers);
    this.freeMips = Float64Array.from(market.table.capacityMips);
    this.freeRam = Float64Array.from(market.table.ramMb);
    this.present = new Uint8Array(n);
    this.priority = new Int32Array(m);
    for (let p = 0; p < order.length; p++) this.priority[order[p]!] = p;
    this.firstChunk = new Int32Array(m).fill(-1);
    this.lastChunk = new Int32Array(m).fill(-1);
    this.segment = new Int32Array(m);
    this.row = market.customerRow.slice();
    this.freed = new Uint8Array(n);
    const mediatorCount = market.mediatorAddresses.length;
    this.gained = new Int32Array(mediatorCount).fill(n);
    this.gainedMips = new Float64Array(mediatorCount);
    this.gainedRam = new Float64Array(mediatorCount);
    this.shownMips = new Float64Array(n);
    this.shownRam = new Float64Array(n);
    market.live.clear();
  }

  gain(i: number): void {
    const { supplierMediatorFrom, supplierMediatorList } = this.market;
    const { gained, gainedMips, gainedRam, freeMips, freeRam } = this;
    for (let j = supplierMediatorFrom[i]!, last = supplierMediatorFrom[i + 1]!; j < last; j++) {
      const g = supplierMediatorList[j]!;
      if (gained[g] === this.n) {
        this.touched.push(g);
        gainedMips[g] = -1;
        gainedRam[g] = -1;
      }
      if (i < gained[g]!) gained[g] = i;
      if (freeMips[i]! > gainedMips[g]!) gainedMips[g] = freeMips[i]!;
      if (freeRam[i]! > gainedRam[g]!) gainedRam[g] = freeRam[i]!;
    }
  }

  reveal(i: number): void {
    this.shownMips[i] = this.freeMips[i]!;
    this.shownRam[i] = this.freeRam[i]!;
    this.market.live.set(i, this.freeMips[i]!, this.freeRam[i]!, this.market.table.end[i]!);
  }

  show(i: number): void {
    if (this.present[i] && (this.freeMips[i]! > this.shownMips[i]! || this.freeRam[i]! > this.shownRam[i]!))
      this.reveal(i);
  }

  /** Tries to start a chunk for Customer k at t; true when it did. */
  attempt(k: number, t: number): boolean {
    const { market, row, freeMips, freeRam, timelines, n } = this;
    const { table, live, mediatorList, mediatorBelow, maxScan } = market;
    const b = k * ROW;
    const dMin = row[b + ROW_MIN_SERVICE]!;
    const segEnd = row[b + ROW_SEGMENT_END]!;
    const mips = row[b + ROW_MIPS]!;
    const ramMb = row[b + ROW_RAM]!;
    const firstMediator = row[b + ROW_MEDIATORS]!;
    const mediatorCount = row[b + ROW_MEDIATORS_END]! - firstMediator;
    const account = market.customerAccount[k]!;
    const replicas = market.customerReplicas[k]!;
    const minReplicas = market.customerMinReplicas[k]!;
    const stay = t + dMin;
    const shortOf = market.shortOf[k];
    let winner = -1;
    let winnerScore = -Infinity;
    let winnerCount = 0;
    let winnerDearest = n;
    for (let j = 0; j < mediatorCount; j++) {
      const g = mediatorList[firstMediator + j]!;
      const base = j * MAX_REPLICAS;
      let count = 0;
      const until = mediatorBelow[firstMediator + j]!;
      let p = 0;
      for (let examined = 0; count < replicas && examined < maxScan; examined++) {
        p = live.first(g, p, until, mips, ramMb, stay);
        if (p < 0) break;
        const i = live.rankAt(g, p++);
        // A full group was found under an earlier Mediator: this one can only win with a full
        // group of cheaper Suppliers, and the rest here are as dear as this one or dearer.
        if (winnerCount === replicas && i >= winnerDearest) break;
        if (freeMips[i]! < mips || freeRam[i]! < ramMb) {
          this.reveal(i);
          continue;
        }
        const other = table.account[i]!;
        if (other === account || shortOf?.[i]) continue;
        let duplicate = false;
        for (let q = 0; q < count; q++)
          if (table.account[candidateRank[base + q]!] === other) duplicate = true;
        if (duplicate) continue;
        let room = table.end[i]!;
        const timeline = timelines[i];
        if (timeline) {
          room = timeline.fitUntil(t, mips, ramMb, segEnd);
          if (room < stay) continue;
        }
        candidateRank[base + count] = i;
        candidateUntil[base + count] = room;
        count++;
      }
      candidateCount[j] = count;
      // The most replicas win, then the cheapest dearest Supplier (then the Customer's Mediator order).
      if (count >= minReplicas && count > 0) {
        const score = count * (n + 1) - candidateRank[base + count - 1]!;
        if (score > winnerScore) {
          winnerScore = score;
          winner = j;
          winnerCount = count;
          winnerDearest = candidateRank[base + count - 1]!;
        }
      }
    }
    if (winner < 0) return false;

    const base = winner * MAX_REPLICAS;
    const count = candidateCount[winner]!;
    let hardEnd = Math.min(segEnd, t + market.customerMaxChunk[k]!);
    for (let q = 0; q < count; q++) hardEnd = Math.min(hardEnd, candidateUntil[base + q]!);
    // The chunk runs until the first instant after switchSeconds (at least δ_min) where something
    // changes; then its Customer is matched again (and keeps the chunk going if the same Suppliers win).
    let end = Math.min(hardEnd, market.nextEventFrom(t + Math.max(dMin, market.switchSeconds)));
    if (end < segEnd && segEnd - end < dMin) {
      // Never leave a remainder shorter than δ_min.
      if (hardEnd >= segEnd) end = segEnd;
      else if (segEnd - dMin - t >= dMin) end = segEnd - dMin;
    }

    const mediator = mediatorList[firstMediator + winner]!;
    for (let q = 0; q < count; q++) {
      const i = candidateRank[base + q]!;
      freeMips[i]! -= mips;
      freeRam[i]! -= ramMb;
      timelines[i]?.add({ start: t, end, mips, ramMb });
    }
    // The same Suppliers and Mediator as the chunk that just ended: it goes on (within maxChunk and
    // the open window).
    const { chunkStart, chunkEnd, chunkFrom, chunkSuppliers } = this;
    const last = this.lastChunk[k]!;
    if (
      last >= 0 &&
      chunkEnd[last] === t &&
      chunkStart[last]! >= market.segStart[this.segment[k]!]! &&
      this.chunkMediator[last] === mediator &&
      chunkFrom[last + 1]! - chunkFrom[last]! === count &&
      end - chunkStart[last]! <= market.customerMaxChunk[k]!
    ) {
      let same = true;
      for (let q = 0; q < count && same; q++)
        same = chunkSuppliers[chunkFrom[last]! + q] === candidateRank[base + q];
      if (same) {
        chunkEnd[last] = end;
        this.ends.push(end, last);
        return true;
      }
    }
    const chunk = this.chunkCustomer.length;
    for (let q = 0; q < count; q++) chunkSuppliers.push(candidateRank[base + q]!);
    this.chunkCustomer.push(k);
    chunkStart.push(t);
    chunkEnd.push(end);
    this.chunkMediator.push(mediator);
    chunkFrom.push(chunkSuppliers.length);
    this.nextChunk.push(-1);
    if (last >= 0) this.nextChunk[last] = chunk;
    else this.firstChunk[k] = chunk;
    this.lastChunk[k] = chunk;
    this.ends.push(end, chunk);
    return true;
  }

  /** `xs` sorted ascending, in a scratch array (the native sort of a typed array). */
  sortInts(xs: readonly number[]): Int32Array {
    if (this.scratch.length < xs.length) this.scratch = new Int32Array(2 * xs.length);
    const view = this.scratch.subarray(0, xs.length);
    for (let x = 0; x < xs.length; x++) view[x] = xs[x]!;
    return view.sort();
  }

  /** The sweep, then each Customer's outcome and the pass's welfare. */
  run(): Pass {
    const { market, row, order, priority, ends, freeMips, freeRam, present, gained, gainedMips, gainedRam } =
      this;
    const { table, live, mediatorList } = market;
    const { chunkCustomer, chunkEnd, chunkFrom, chunkSuppliers, freed, freedList, incoming, touched } = this;
    const n = this.n;
    const { time: eventTime, kind: eventKind, id: eventId } = market.events;
    let e = 0;
    while (e < eventTime.length || ends.size > 0) {
      const t = Math.min(e < eventTime.length ? eventTime[e]! : Infinity, ends.top);
      for (const g of touched) gained[g] = n;
      touched.length = 0;
      // 1. Chunks ending now give their room back; their Customers wait again if their window goes on.
      while (ends.top === t) {
        const chunk = ends.topChunk();
        ends.pop();
        if (chunkEnd[chunk] !== t) continue; // it went on (merged)
        const k = chunkCustomer[chunk]!;
        const mips = row[k * ROW + ROW_MIPS]!;
        const ramMb = row[k * ROW + ROW_RAM]!;
        for (let q = chunkFrom[chunk]!; q < chunkFrom[chunk + 1]!; q++) {
          const i = chunkSuppliers[q]!;
          freeMips[i]! += mips;
          freeRam[i]! += ramMb;
          // A Supplier leaving now is of no more use; the others are shown once all chunks ended.
          if (table.end[i]! > t && !freed[i]) {
            freed[i] = 1;
            freedList.push(i);
          }
        }
        if (row[k * ROW + ROW_SEGMENT_END]! - t >= row[k * ROW + ROW_MIN_SERVICE]!)
          incoming.push(priority[k]!);
      }
      for (const i of freedList) {
        freed[i] = 0;
        this.show(i);
        this.gain(i);
      }
      freedList.length = 0;
      // 2. Suppliers leave and arrive, earlier rounds' commitments end, Customer windows open.
      for (; e < eventTime.length && eventTime[e] === t; e++) {
        const id = eventId[e]!;
        switch (eventKind[e]) {
          case SUPPLIER_LEAVES:
            present[id] = 0;
            live.set(id, -1, -1, -Infinity);
            break;
          case SUPPLIER_ARRIVES:
            present[id] = 1;
            this.reveal(id);
            this.gain(id);
            break;
          case PRIOR_ENDS:
            this.gain(id);
            break;
          default:
            this.segment[id] = market.segmentAt[e]!;
            row[id * ROW + ROW_SEGMENT_END] = market.segEnd[this.segment[id]!]!;
            if (row[id * ROW + ROW_FLAGS]! & WAITING) row[id * ROW + ROW_FLAGS] = WAITING | FRESH;
            else incoming.push(priority[id]!);
        }
      }
      // 3. Waiting Customers, by priority: new ones try; the others only when a Supplier they could
      // use (under one of their Mediators, asking at most their bid) gained room.
      if (incoming.length > 0) {
        const sorted = this.sortInts(incoming);
        for (const p of sorted) row[order[p]! * ROW + ROW_FLAGS] = WAITING | FRESH;
        const waiting = this.waiting;
        const merged = this.spare;
        merged.length = 0;
        let a = 0;
        let b = 0;
        while (a < waiting.length || b < sorted.length) {
          if (b >= sorted.length || (a < waiting.length && waiting[a]! < sorted[b]!))
            merged.push(waiting[a++]!);
          else merged.push(sorted[b++]!);
        }
        this.spare = waiting;
        this.waiting = merged;
        incoming.length = 0;
      }
      const waiting = this.waiting;
      let kept = 0;
      for (let w = 0; w < waiting.length; w++) {
        const k = order[waiting[w]!]!;
        const b = k * ROW;
        if (row[b + ROW_SEGMENT_END]! - t < row[b + ROW_MIN_SERVICE]!) {
          row[b + ROW_FLAGS] = 0;
          continue;
        }
        let retry = row[b + ROW_FLAGS] === (WAITING | FRESH);
        if (!retry) {
          const limit = row[b + ROW_LIMIT]!;
          const mips = row[b + ROW_MIPS]!;
          const ramMb = row[b + ROW_RAM]!;
          const last = row[b + ROW_MEDIATORS_END]!;
          for (let j = row[b + ROW_MEDIATORS]!; j < last && !retry; j++) {
            const g = mediatorList[j]!;
            retry = gained[g]! < limit && gainedMips[g]! >= mips && gainedRam[g]! >= ramMb;
          }
        }
        row[b + ROW_FLAGS] = WAITING;
        if (retry && this.attempt(k, t)) {
          row[b + ROW_FLAGS] = 0;
          continue;
        }
        waiting[kept++] = waiting[w]!;
      }
      waiting.length = kept;
    }
    return this.finish();
  }

  /** Each Customer's pieces (its chunks, and the rest of its segments unserved) and the welfare. */
  finish(): Pass {
    const { market, row, chunkCustomer, chunkStart, chunkEnd, chunkFrom, chunkSuppliers, nextChunk } = this;
    const { params } = market.input;
    const outcomes: CustomerOutcome[] = [];
    const customerVoids: VoidAllocation[] = [];
    market.customers.forEach((c, k) => {
      const o = c.offer;
      if (market.customerExpired[k]) {
        if (isWholeWindow(c)) customerVoids.push(voidOf(params.allocator, c.id, o.account));
        outcomes.push({ customerOfferId: c.id, pieces: [], stillOpen: [], closed: true });
        return;
      }
      const pieces: Array<{ start: number; end: number; allocation?: number }> = [];
      const unserved = (start: number, end: number) => {
        if (end <= start) return;
        const last = pieces[pieces.length - 1];
        if (last && last.allocation === undefined && last.end === start) last.end = end;
        else pieces.push({ start, end });
      };
      let q = this.firstChunk[k]!;
      for (let s = market.segFrom[k]!; s < market.segFrom[k + 1]!; s++) {
        let t = market.segStart[s]!;
        const segEnd = market.segEnd[s]!;
        for (; q >= 0 && chunkStart[q]! < segEnd; q = nextChunk[q]!) {
          unserved(t, chunkStart[q]!);
          pieces.push({ start: chunkStart[q]!, end: chunkEnd[q]!, allocation: q });
          t = chunkEnd[q]!;
        }
        unserved(t, segEnd);
      }
      // What is left can still be served by a later round if it is long enough (new Suppliers may come).
      const stillOpen = pieces
        .filter((p) => p.allocation === undefined && p.end - p.start >= o.minServiceSeconds)
        .map(({ start, end }) => ({ start, end }));
      outcomes.push({ customerOfferId: c.id, pieces, stillOpen, closed: stillOpen.length === 0 });
    });

    let welfare = 0n;
    const chunkWelfare: bigint[] = [];
    for (let q = 0; q < chunkCustomer.length; q++) {
      const k = chunkCustomer[q]!;
      const bid = market.customerBid[k]!;
      let gap = 0n;
      for (let p = chunkFrom[q]!; p < chunkFrom[q + 1]!; p++) gap += bid - market.asks[chunkSuppliers[p]!]!;
      // I_c·λ·Δ: exact as a double while it stays below 2^53.
      const duration = chunkEnd[q]! - chunkStart[q]!;
      const work = row[k * ROW + ROW_MIPS]! * duration;
      const w =
        gap *
        (Number.isSafeInteger(work)
          ? BigInt(work)
          : BigInt(market.customers[k]!.offer.miPerInput) *
            inputsPerReplica(market.customers[k]!.offer.inputsPerSecond, duration));
      chunkWelfare.push(w);
      welfare += w;
    }
    return {
      welfare,
      chunkCustomer,
      chunkStart,
      chunkEnd,
      chunkMediator: this.chunkMediator,
      chunkFrom,
      chunkSuppliers,
      chunkWelfare,
      outcomes,
      customerVoids,
    };
  }
}

/** The kept pass's allocations, priced, in the order they were made. */
function build(market: Market, pass: Pass): AuctionResult {
  const { params } = market.input;
  const priceRule: PriceRule = params.priceRule ?? halfwayPrice;
  let nonce = params.nonceBase ?? 0n;
  const allocations: PlannedAllocation[] = [];
  for (let k = 0; k < pass.chunkCustomer.length; k++) {
    const c = market.customers[pass.chunkCustomer[k]!]!;
    const o = c.offer;
    const start = pass.chunkStart[k]!;
    const end = pass.chunkEnd[k]!;
    // Arrays of their exact length (pushing leaves room for more, and there are many allocations).
    const from = pass.chunkFrom[k]!;
    const count = pass.chunkFrom[k + 1]! - from;
    const accounts = new Array<Address>(count);
    const offers = new Array<Bytes32>(count);
    const asks = new Array<bigint>(count);
    for (let q = 0; q < count; q++) {
      const i = pass.chunkSuppliers[from + q]!;
      const s = market.suppliers[i]!;
      accounts[q] = s.offer.account;
      offers[q] = s.id;
      asks[q] = market.asks[i]!;
    }
    const inputs = inputsPerReplica(o.inputsPerSecond, end - start);
    const allocation: Allocation = {
      schemaVersion: SCHEMA_VERSION,
      allocator: params.allocator,
      customer: o.account,
      suppliers: accounts,
      mediator: market.mediatorAddresses[pass.chunkMediator[k]!]!,
      customerOffer: c.id,
      supplierOffers: offers,
      serviceHash: o.serviceHash,
      start,
      end,
      pricePerMi: priceRule.price([o.maxPricePerMi], asks),
      miPerInput: o.miPerInput,
      inputsPerSecond: o.inputsPerSecond,
      testCount: testCountFor(inputs, params.penaltyRate),
      minReplicas: Math.min(o.minReplicas, accounts.length),
      nonce: nonce++,
    };
    allocations.push({
      allocation,
      customerOfferId: c.id,
      supplierOfferIds: allocation.supplierOffers,
      welfare: pass.chunkWelfare[k]!,
      commitment: { start, end, mips: market.customerMips[pass.chunkCustomer[k]!]!, ramMb: o.ramMb },
    });
  }
  return {
    allocations,
    voids: [...market.supplierVoids, ...pass.customerVoids],
    customers: pass.outcomes,
    welfare: pass.welfare,
  };
}
