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
// Greedy (deterministic: everything is ordered by price, then by offer id; no clock, no randomness):
//  1. Suppliers are ranked by ask π_xmin ascending (then id) and indexed per Mediator
//     (supplier-index.ts): by time slot, with the most CPU/RAM each has free in the slot, and by
//     start time. Building the indexes is O(S log S).
//  2. Customers are served one after the other, in a priority order (below). With unit demands,
//     serving bids in descending order with the cheapest asks is the classic efficient
//     double-auction matching.
//  3. For a Customer, time advances from the start of each open window. At instant t, for each
//     Mediator it trusts, the cheapest Suppliers under that Mediator that ask at most the bid, are
//     there from t for at least δ_min, are not the Customer's account and have room for one more
//     replica (CapacityTimeline) are found by searching the slot's tree, O(log S) each; at most
//     `maxScan` Suppliers are examined. Suppliers whose room ends before a settled chunk
//     (min(window end, t + switchSeconds)) are only taken when too few others are found: each
//     allocation costs set-up time and gas, and in a crowded market the cheapest Suppliers' free
//     capacity is fragmented by earlier Customers' chunks. The Mediator with the most replicas
//     (at least r_min) wins, then the one whose dearest chosen Supplier is cheapest. The chunk
//     runs until the first chosen Supplier leaves or fills up, or a cheaper compatible Supplier
//     with room arrives or frees up (so the next chunk can switch to it; not before
//     `switchSeconds`), or the window, maxChunkSeconds or the n ≤ maxTestCount bound ends it — but
//     at least δ_min; a remainder shorter than δ_min is avoided by ending the chunk δ_min before
//     the window's end. If no group is large enough, time jumps to the next instant a new
//     candidate can appear (a Supplier's arrival, a commitment's end, the slot's end; at least
//     δ_min on) and the skipped piece stays open for later rounds.
//  4. Passes: the greedy runs once per Customer order in ORDERS, then `refinements` more times
//     (squeaky wheel: the keys of Customers the best pass left short grow in proportion to what
//     they missed), and the round with the highest welfare is kept (the first on a tie). Each pass
//     records its chunks as numbers only; the allocations (bigint prices, test counts) are built
//     for the kept pass alone.
//  Cost: O(S log S + C log C + P · A · (r + e) · log S) with P the passes, A the steps tried
//  (chunks and skips) and e the Suppliers examined and rejected per step. Both A/C and e grow with
//  the market's density, as earlier Customers' chunks fragment the cheap Suppliers' free capacity
//  (bench/src/allocator.ts measures it).
//
// Price: each allocation is priced by `priceRule` (default k-double auction with k = ½,
// price-rules.ts) from the Customer's bid and the chosen Suppliers' asks, so
// π_xmin(s) ≤ π_x ≤ π_xmax(c) for every matched offer.
import { InvalidParameterError } from "../errors.ts";
import { DEFAULT_DELAYS, isExpired, type ProtocolDelays, requiredMips } from "../feasibility.ts";
import { inputsPerReplica, type PriceRule, testCountFor } from "../pricing.ts";
import {
  type Address,
  type Allocation,
  type Bytes32,
  SCHEMA_VERSION,
  type VoidAllocation,
} from "../schemas.ts";
import { CapacityTimeline } from "./capacity.ts";
import { halfwayPrice } from "./price-rules.ts";
import { ArrivalIndex, SlotIndex, type SupplierTable } from "./supplier-index.ts";
import type {
  AuctionInput,
  AuctionResult,
  Commitment,
  CustomerOutcome,
  OpenCustomerOffer,
  OpenSupplierOffer,
  PlannedAllocation,
} from "./types.ts";

const MAX_TEST_COUNT = 1_000_000;
const DEFAULT_MAX_SCAN = 512;
const DEFAULT_SWITCH_SECONDS = 3_600;
/** Schema bounds: at most 16 replicas and 16 Mediators per offer. */
const MAX_REPLICAS = 16;
const MAX_MEDIATORS = 16;
/**
 * Suppliers examined at most per Mediator and instant when looking for room that does not last
 * the whole slot, and when looking for a cheaper arrival: where free capacity is fragmented most
 * examined ones turn out full, so a longer search costs much and finds little.
 */
const SHORT_SCAN = 32;
const ARRIVAL_SCAN = 8;

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
} as const;
export type CustomerOrder = (typeof CustomerOrder)[keyof typeof CustomerOrder];

/** The orders runAuction tries, in this order (the first wins ties). */
export const ORDERS: readonly CustomerOrder[] = [CustomerOrder.Rate, CustomerOrder.Value];

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
  readonly slots: SlotIndex;
  readonly arrivals: ArrivalIndex;
  /** Customer offers by id, with per-offer facts. */
  readonly customers: readonly OpenCustomerOffer[];
  readonly customerMips: Float64Array;
  readonly customerAccount: Int32Array;
  /** Suppliers [0, limit) ask at most the Customer's bid. */
  readonly customerLimit: Int32Array;
  readonly customerMediators: readonly Int32Array[];
  readonly customerMaxChunk: Float64Array;
  readonly mediatorAddresses: readonly Address[];
  readonly supplierVoids: readonly VoidAllocation[];
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
  return runGreedy(input, ORDERS);
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
    if (best) market.slots.reset();
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
    market.slots.reset();
    last = runPass(market, sortByKeys(keys));
    if (last.welfare > best!.welfare) best = last;
  }
  return build(market, best!);
}

/** How much a Customer's key grows when the last pass served none of what it wanted (proportionally less when some). */
const SQUEAK = 0.5;
/** Refinement passes on markets of at most this many offers (each pass is a whole greedy). */
const REFINE_UP_TO_OFFERS = 2_000;
const REFINEMENTS = 4;

/** How many greedy passes runAuction makes on this input (its work is about proportional). */
export function auctionPasses(input: AuctionInput): number {
  return ORDERS.length + refinementsFor(input);
}

function refinementsFor(input: AuctionInput): number {
  return (
    input.params.refinements ??
    (input.customers.length + input.suppliers.length <= REFINE_UP_TO_OFFERS ? REFINEMENTS : 0)
  );
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
  const slots = new SlotIndex(table, mediatorAddresses.length, priorTimelines(suppliers));
  const arrivals = new ArrivalIndex(table, mediatorAddresses.length);

  const m = customers.length;
  const customerMips = new Float64Array(m);
  const customerAccount = new Int32Array(m);
  const customerLimit = new Int32Array(m);
  const customerMaxChunk = new Float64Array(m);
  const customerMediators: Int32Array[] = [];
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
    customerMediators.push(Int32Array.from(usable.slice(0, MAX_MEDIATORS)));
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
    slots,
    arrivals,
    customers,
    customerMips,
    customerAccount,
    customerLimit,
    customerMediators,
    customerMaxChunk,
    mediatorAddresses,
    supplierVoids,
  };
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
  return Float64Array.from(market.customers, (c, k) => {
    const o = c.offer;
    const bid = Number(o.maxPricePerMi);
    if (order === CustomerOrder.Value) return bid * market.customerMips[k]! * o.replicas * (o.end - o.start);
    if (order === CustomerOrder.Rate) return bid * market.customerMips[k]!;
    return bid;
  });
}

/** Customer indices by descending key; Customers are sorted by id, so the index breaks ties by id. */
function sortByKeys(keys: Float64Array): Int32Array {
  return Int32Array.from(keys.keys()).sort((a, b) => keys[b]! - keys[a]! || a - b);
}

// Scratch space of one pass: each Mediator's candidate group (ranks, how long each can serve).
const candidateRank = new Int32Array(MAX_MEDIATORS * MAX_REPLICAS);
const candidateUntil = new Float64Array(MAX_MEDIATORS * MAX_REPLICAS);
const candidateCount = new Int32Array(MAX_MEDIATORS);
const shortRank = new Int32Array(MAX_REPLICAS);
const shortUntil = new Float64Array(MAX_REPLICAS);

/** Sorts one candidate group by rank (cheapest first; groups have at most 16 entries). */
function sortGroup(base: number, count: number): void {
  for (let q = base + 1; q < base + count; q++) {
    const rank = candidateRank[q]!;
    const until = candidateUntil[q]!;
    let at = q;
    for (; at > base && candidateRank[at - 1]! > rank; at--) {
      candidateRank[at] = candidateRank[at - 1]!;
      candidateUntil[at] = candidateUntil[at - 1]!;
    }
    candidateRank[at] = rank;
    candidateUntil[at] = until;
  }
}

function runPass(market: Market, order: Int32Array): Pass {
  const { input, table, slots, arrivals, asks } = market;
  const { params } = input;
  const now = params.nowSeconds;
  const { earliest, maxScan, switchSeconds } = market;
  const shortScan = Math.min(maxScan, SHORT_SCAN);
  const arrivalScan = Math.min(maxScan, ARRIVAL_SCAN);
  const timelines = priorTimelines(market.suppliers);
  const chunkCustomer: number[] = [];
  const chunkStart: number[] = [];
  const chunkEnd: number[] = [];
  const chunkMediator: number[] = [];
  const chunkFrom: number[] = [0];
  const chunkSuppliers: number[] = [];
  const chunkWelfare: bigint[] = [];
  const outcomes: CustomerOutcome[] = [];
  const customerVoids: VoidAllocation[] = [];
  let welfare = 0n;

  /** Whether Supplier i, arriving at its start, has room there for δ_min. */
  const roomOnArrival = (i: number, mips: number, ramMb: number, dMin: number) => {
    const timeline = timelines[i];
    const start = table.start[i]!;
    return !timeline || timeline.fitUntil(start, mips, ramMb, start + dMin) >= start + dMin;
  };
  /** The earliest arrival in (after, before) under Mediator g of a Supplier ranked below `rankBelow` that could take the replica. */
  const nextArrival = (
    g: number,
    after: number,
    before: number,
    rankBelow: number,
    mips: number,
    ramMb: number,
    account: number,
    dMin: number,
  ) => {
    const until = arrivals.startingFrom(g, before, false);
    let p = arrivals.startingFrom(g, after, true);
    for (let examined = 0; examined < arrivalScan; examined++) {
      p = arrivals.first(g, p, until, rankBelow, mips, ramMb);
      if (p < 0) return Infinity;
      const i = arrivals.rankAt(g, p);
      if (
        table.account[i] !== account &&
        table.end[i]! - table.start[i]! >= dMin &&
        roomOnArrival(i, mips, ramMb, dMin)
      )
        return table.start[i]!;
      p++;
    }
    return Infinity;
  };

  for (const k of order) {
    const c = market.customers[k]!;
    const o = c.offer;
    const dMin = o.minServiceSeconds;
    if (isExpired(o, now, market.delays)) {
      if (isWholeWindow(c)) customerVoids.push(voidOf(params.allocator, c.id, o.account));
      outcomes.push({ customerOfferId: c.id, pieces: [], stillOpen: [], closed: true });
      continue;
    }
    const mips = market.customerMips[k]!;
    const ramMb = o.ramMb;
    const account = market.customerAccount[k]!;
    const limit = market.customerLimit[k]!;
    const mediators = market.customerMediators[k]!;
    const maxChunk = market.customerMaxChunk[k]!;
    const replicas = Math.min(o.replicas, MAX_REPLICAS);
    const minReplicas = o.minReplicas;
    const pieces: Array<{ start: number; end: number; allocation?: number }> = [];
    const unserved = (start: number, end: number) => {
      const last = pieces[pieces.length - 1];
      if (last && last.allocation === undefined && last.end === start) last.end = end;
      else pieces.push({ start, end });
    };
    const servable = limit > 0 && mediators.length > 0 && maxChunk >= dMin;

    for (const open of c.openWindows ?? [{ start: o.start, end: o.end }]) {
      const wEnd = Math.min(open.end, o.end);
      let t = Math.max(open.start, o.start, earliest);
      if (wEnd <= t) continue;
      while (servable && wEnd - t >= dMin) {
        // Each Mediator's group: its cheapest Suppliers with room at t for δ_min, distinct accounts.
        let nextFree = Infinity;
        // A chunk that lasts this long is worth its overhead; shorter ones only when nothing else serves.
        const settled = Math.min(wEnd, t + Math.max(dMin, switchSeconds));
        let winner = -1;
        let winnerScore = -Infinity;
        for (let j = 0; j < mediators.length; j++) {
          const base = j * MAX_REPLICAS;
          let count = 0;
          let short = 0;
          const l = slots.list(mediators[j]!, t);
          if (l >= 0) {
            const affordable = slots.below(l, limit);
            // Cheapest first. Suppliers whose room ends before a settled chunk are kept aside, and
            // once there are enough of those the search stops after `shortScan` Suppliers.
            let p = 0;
            for (let examined = 0; count < replicas && examined < maxScan; examined++) {
              if (count + short >= replicas && examined >= shortScan) break;
              p = slots.first(l, p, affordable, mips, ramMb, t, t + dMin);
              if (p < 0) break;
              const i = slots.rankAt(l, p++);
              const other = table.account[i]!;
              if (other === account) continue;
              let duplicate = false;
              for (let q = 0; q < count; q++)
                if (table.account[candidateRank[base + q]!] === other) duplicate = true;
              for (let q = 0; q < short; q++) if (table.account[shortRank[q]!] === other) duplicate = true;
              if (duplicate) continue;
              const timeline = timelines[i];
              let until = table.end[i]!;
              if (timeline) {
                until = timeline.fitUntil(t, mips, ramMb, wEnd);
                if (until < 0) {
                  const freeAt = timeline.nextChange(t);
                  if (freeAt < nextFree) nextFree = freeAt;
                  continue;
                }
              }
              if (until > wEnd) until = wEnd;
              if (until - t < dMin) continue;
              if (until < settled) {
                // Serves less than a settled chunk: kept aside in case too few others are found.
                if (short < replicas) {
                  shortRank[short] = i;
                  shortUntil[short++] = until;
                }
                continue;
              }
              candidateRank[base + count] = i;
              candidateUntil[base + count] = until;
              count++;
            }
            // Too few Suppliers serve a settled chunk: complete the group with the cheapest others.
            for (let q = 0; q < short && count < replicas; q++) {
              candidateRank[base + count] = shortRank[q]!;
              candidateUntil[base + count] = shortUntil[q]!;
              count++;
            }
            sortGroup(base, count);
          }
          candidateCount[j] = count;
          // The most replicas win, then the cheapest dearest Supplier (then the Customer's Mediator order).
          if (count >= minReplicas) {
            const score = count * (table.count + 1) - candidateRank[base + count - 1]!;
            if (score > winnerScore) {
              winnerScore = score;
              winner = j;
            }
          }
        }

        if (winner < 0) {
          // Nothing to allocate at t: skip to where a new candidate may appear.
          let next = nextFree;
          for (let j = 0; j < mediators.length; j++) {
            const arrival = nextArrival(mediators[j]!, t, wEnd, limit, mips, ramMb, account, dMin);
            if (arrival < next) next = arrival;
          }
          next = Math.min(slots.slotEnd(t), Math.max(next, t + dMin), wEnd);
          if (!(next > t)) next = wEnd;
          unserved(t, next);
          t = next;
          continue;
        }

        const base = winner * MAX_REPLICAS;
        const count = candidateCount[winner]!;
        let end = Math.min(wEnd, t + maxChunk);
        let dearest = 0;
        for (let q = 0; q < count; q++) {
          end = Math.min(end, candidateUntil[base + q]!);
          dearest = Math.max(dearest, candidateRank[base + q]!);
        }
        // A cheaper Supplier arrives or frees up before then: end the chunk there so the next one
        // can switch to it — but only after `switchSeconds`, so a chunk is worth its overhead.
        const switchAt = t + Math.max(dMin, switchSeconds);
        if (switchAt < end) {
          let arrival = nextFree;
          for (let j = 0; j < mediators.length && arrival > switchAt; j++) {
            const next = nextArrival(mediators[j]!, t, end, dearest, mips, ramMb, account, dMin);
            if (next < arrival) arrival = next;
          }
          end = Math.min(end, Math.max(switchAt, arrival));
        }
        if (wEnd - end > 0 && wEnd - end < dMin && wEnd - dMin - t >= dMin) end = wEnd - dMin;

        const commitment: Commitment = { start: t, end, mips, ramMb };
        let gap = 0n;
        for (let q = 0; q < count; q++) {
          const i = candidateRank[base + q]!;
          let timeline = timelines[i];
          if (!timeline) {
            timeline = new CapacityTimeline(table.capacityMips[i]!, table.ramMb[i]!, table.end[i]!);
            timelines[i] = timeline;
          }
          timeline.add(commitment);
          slots.update(i, t, end, timeline);
          chunkSuppliers.push(i);
          gap += o.maxPricePerMi - asks[i]!;
        }
        const w = gap * BigInt(o.miPerInput) * inputsPerReplica(o.inputsPerSecond, end - t);
        pieces.push({ start: t, end, allocation: chunkCustomer.length });
        chunkCustomer.push(k);
        chunkStart.push(t);
        chunkEnd.push(end);
        chunkMediator.push(mediators[winner]!);
        chunkFrom.push(chunkSuppliers.length);
        chunkWelfare.push(w);
        welfare += w;
        t = end;
      }
      if (wEnd > t) unserved(t, wEnd);
    }
    // What is left can still be served by a later round if it is long enough (new Suppliers may come).
    const stillOpen = pieces
      .filter((p) => p.allocation === undefined && p.end - p.start >= dMin)
      .map(({ start, end }) => ({ start, end }));
    outcomes.push({ customerOfferId: c.id, pieces, stillOpen, closed: stillOpen.length === 0 });
  }
  return {
    welfare,
    chunkCustomer,
    chunkStart,
    chunkEnd,
    chunkMediator,
    chunkFrom,
    chunkSuppliers,
    chunkWelfare,
    outcomes,
    customerVoids,
  };
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
    const chosen = pass.chunkSuppliers.slice(pass.chunkFrom[k]!, pass.chunkFrom[k + 1]!);
    const suppliers = chosen.map((i) => market.suppliers[i]!);
    const inputs = inputsPerReplica(o.inputsPerSecond, end - start);
    const allocation: Allocation = {
      schemaVersion: SCHEMA_VERSION,
      allocator: params.allocator,
      customer: o.account,
      suppliers: suppliers.map((s) => s.offer.account),
      mediator: market.mediatorAddresses[pass.chunkMediator[k]!]!,
      customerOffer: c.id,
      supplierOffers: suppliers.map((s) => s.id),
      serviceHash: o.serviceHash,
      start,
      end,
      pricePerMi: priceRule.price(
        [o.maxPricePerMi],
        chosen.map((i) => market.asks[i]!),
      ),
      miPerInput: o.miPerInput,
      inputsPerSecond: o.inputsPerSecond,
      testCount: testCountFor(inputs, params.penaltyRate),
      minReplicas: Math.min(o.minReplicas, suppliers.length),
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
