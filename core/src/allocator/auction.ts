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
//  1. Suppliers are sorted by ask π_xmin ascending and indexed by time slot (about a third of
//     the median Supplier window); each slot lists the Suppliers whose window meets it, cheapest
//     first. Building the index is O(S log S).
//  2. Customers are served one after the other. Two orders are tried and the round with the
//     higher welfare is kept: by bid × I_c·λ (the surplus a unit of price gap creates per second:
//     high bids first, and big services before small ones can fragment the big Suppliers) and by
//     whole value π_xmax·I_c·λ·r·(c_end − c_start). With unit demands, serving bids in descending
//     order with the cheapest asks is the classic efficient double-auction matching.
//  3. For a Customer, time advances from the start of each open window. At instant t the slot of
//     t is scanned cheapest first (at most `maxScan` entries), stopping at the first ask above the
//     bid; Suppliers without room anywhere in the slot are skipped in O(log n) (FreeTree: per
//     slot, a max segment tree of each Supplier's free CPU and RAM); a Supplier is a candidate when it is available at t for at least δ_min, is large
//     enough, is not the Customer's account, and has room at t for one more replica
//     (CapacityTimeline). Candidates are grouped by the Mediators they share with the Customer;
//     the first group that reaches r distinct accounts wins (its dearest ask is the lowest
//     possible), otherwise the largest group with ≥ r_min. The chunk runs until the first chosen
//     Supplier leaves or fills up, or a cheaper compatible Supplier arrives or frees up (so the
//     next chunk can switch to it; not before `switchSeconds`), or the window, maxChunkSeconds or
//     the n ≤ maxTestCount bound ends it — but at least δ_min; a remainder shorter than δ_min is avoided
//     by ending the chunk δ_min before the window's end. If no group is large enough, time jumps
//     to the next instant a new candidate can appear (a Supplier's start, a commitment's end, the
//     slot's end; at least δ_min on) and the skipped piece stays open for later rounds.
//  Cost: O(S log S + C log C + A · maxScan · log S), A the number of chunks tried (linear in the
//  offers for windows spread as in the benchmark). Measured against the exact MILP optimum on small
//  markets (bench/src/allocator.ts) it reaches ≈ 95 % of the optimal welfare; the reference
//  method (max-cardinality matching) reaches ≈ 10 %.
//
// Price: each allocation is priced by `priceRule` (default k-double auction with k = ½,
// price-rules.ts) from the Customer's bid and the chosen Suppliers' asks, so
// π_xmin(s) ≤ π_x ≤ π_xmax(c) for every matched offer.
import { InvalidParameterError } from "../errors.ts";
import { DEFAULT_DELAYS, isExpired, requiredMips } from "../feasibility.ts";
import { inputsPerReplica, testCountFor } from "../pricing.ts";
import { type Address, type Allocation, SCHEMA_VERSION, type VoidAllocation } from "../schemas.ts";
import { CapacityTimeline } from "./capacity.ts";
import { halfwayPrice } from "./price-rules.ts";
import type {
  AuctionInput,
  AuctionResult,
  CustomerOutcome,
  OpenCustomerOffer,
  OpenSupplierOffer,
  PlannedAllocation,
} from "./types.ts";

const MAX_TEST_COUNT = 1_000_000;
const MAX_SLOTS = 1 << 16;
const DEFAULT_MAX_SCAN = 512;
const DEFAULT_SWITCH_SECONDS = 3_600;

const byId = (a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
const bigintAsc = (a: bigint, b: bigint) => (a < b ? -1 : a > b ? 1 : 0);

interface LiveSupplier {
  readonly open: OpenSupplierOffer;
  /** Effective start: max(s_start, now + δ_alloc + δ_setup). */
  readonly start: number;
  readonly end: number;
  readonly account: Address;
  readonly mediators: ReadonlySet<Address>;
  readonly timeline: CapacityTimeline;
}

/**
 * Per list position, an upper bound of the CPU and RAM a Supplier has free at any instant of the
 * slot (a max segment tree), so a scan skips Suppliers that are full there in O(log n).
 */
class FreeTree {
  readonly #size: number;
  readonly #mips: Float64Array;
  readonly #ram: Float64Array;

  constructor(n: number) {
    let size = 1;
    while (size < n) size <<= 1;
    this.#size = size;
    this.#mips = new Float64Array(2 * size).fill(-1);
    this.#ram = new Float64Array(2 * size).fill(-1);
  }

  set(p: number, mips: number, ram: number): void {
    let node = p + this.#size;
    this.#mips[node] = mips;
    this.#ram[node] = ram;
    for (node >>= 1; node >= 1; node >>= 1) {
      this.#mips[node] = Math.max(this.#mips[2 * node]!, this.#mips[2 * node + 1]!);
      this.#ram[node] = Math.max(this.#ram[2 * node]!, this.#ram[2 * node + 1]!);
    }
  }

  /** The first position in [from, until) with at least `mips` and `ram` free (bounds), or −1. */
  next(from: number, until: number, mips: number, ram: number): number {
    return this.#find(1, 0, this.#size, from, until, mips, ram);
  }

  #find(
    node: number,
    lo: number,
    hi: number,
    from: number,
    until: number,
    mips: number,
    ram: number,
  ): number {
    if (hi <= from || lo >= until || this.#mips[node]! < mips || this.#ram[node]! < ram) return -1;
    if (hi - lo === 1) return lo;
    const mid = (lo + hi) >> 1;
    const left = this.#find(2 * node, lo, mid, from, until, mips, ram);
    return left >= 0 ? left : this.#find(2 * node + 1, mid, hi, from, until, mips, ram);
  }
}

/** The Suppliers whose window meets each time slot, cheapest first (indices into the sorted array). */
class SupplierIndex {
  readonly origin: number;
  readonly slotSeconds: number;
  readonly slots: Int32Array[];
  readonly trees: FreeTree[];
  readonly #suppliers: readonly LiveSupplier[];
  /** Effective starts of all Suppliers, ascending (for "when does the next one arrive"). */
  readonly starts: Float64Array;

  constructor(suppliers: readonly LiveSupplier[]) {
    this.starts = Float64Array.from(suppliers.map((s) => s.start)).sort();
    this.#suppliers = suppliers;
    if (suppliers.length === 0) {
      this.origin = 0;
      this.slotSeconds = 1;
      this.slots = [];
      this.trees = [];
      return;
    }
    let origin = Infinity;
    let horizon = -Infinity;
    const durations: number[] = [];
    for (const s of suppliers) {
      origin = Math.min(origin, s.start);
      horizon = Math.max(horizon, s.end);
      durations.push(s.end - s.start);
    }
    durations.sort((a, b) => a - b);
    const median = durations[durations.length >> 1]!;
    // About three slots per typical window keeps both the lists short and the duplication small.
    let slotSeconds = Math.max(1, Math.ceil(median / 3));
    if ((horizon - origin) / slotSeconds > MAX_SLOTS) slotSeconds = Math.ceil((horizon - origin) / MAX_SLOTS);
    const count = Math.max(1, Math.ceil((horizon - origin) / slotSeconds) + 1);
    this.origin = origin;
    this.slotSeconds = slotSeconds;
    const sizes = new Int32Array(count);
    for (const s of suppliers) {
      const last = this.slotOf(s.end - 1);
      for (let k = this.slotOf(s.start); k <= last; k++) sizes[k]!++;
    }
    this.slots = Array.from(sizes, (n) => new Int32Array(n));
    const fill = new Int32Array(count);
    suppliers.forEach((s, i) => {
      const last = this.slotOf(s.end - 1);
      for (let k = this.slotOf(s.start); k <= last; k++) this.slots[k]![fill[k]!++] = i;
    });
    this.trees = this.slots.map((list) => new FreeTree(list.length));
    this.slots.forEach((list, k) => {
      list.forEach((i, p) => {
        this.#refresh(k, p, i);
      });
    });
  }

  #refresh(k: number, p: number, i: number): void {
    const s = this.#suppliers[i]!;
    const from = Math.max(s.start, this.origin + k * this.slotSeconds);
    const to = Math.min(s.end, this.origin + (k + 1) * this.slotSeconds);
    const used = s.timeline.minUsage(from, to);
    this.trees[k]!.set(p, s.timeline.capacityMips - used.mips, s.timeline.ramMb - used.ramMb);
  }

  /** Re-reads Supplier i's free capacity in the slots that [from, to) meets. */
  update(i: number, from: number, to: number): void {
    const last = this.slotOf(to - 1);
    for (let k = Math.max(0, this.slotOf(from)); k <= last && k < this.slots.length; k++) {
      const list = this.slots[k]!;
      let lo = 0;
      let hi = list.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (list[mid]! < i) lo = mid + 1;
        else hi = mid;
      }
      if (list[lo] === i) this.#refresh(k, lo, i);
    }
  }

  slotOf(t: number): number {
    return Math.floor((t - this.origin) / this.slotSeconds);
  }

  /** Suppliers whose window meets instant t, cheapest first. */
  at(t: number): Int32Array | undefined {
    const k = this.slotOf(t);
    return k < 0 ? undefined : this.slots[k];
  }

  /** Where the slot of t ends: Suppliers not listed at t may be listed from there on. */
  slotEnd(t: number): number {
    return this.origin + (this.slotOf(t) + 1) * this.slotSeconds;
  }

  /** The first effective Supplier start strictly after t (Infinity if none). */
  nextStartAfter(t: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.starts[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo < this.starts.length ? this.starts[lo]! : Infinity;
  }
}

function isWholeWindow(c: OpenCustomerOffer): boolean {
  const w = c.openWindows;
  return w === undefined || (w.length === 1 && w[0]!.start === c.offer.start && w[0]!.end === c.offer.end);
}

/** Runs one auction round. Pure and deterministic: the same input gives the same result. */
/**
 * Runs one auction round. Pure and deterministic: the same input gives the same result.
 * The greedy runs twice, with Customers ordered by bid × I_c·λ (the surplus rate they can
 * create per unit of price gap) and by their whole value π_xmax·I_c·λ·r·(c_end − c_start), and the
 * round with the higher welfare is kept (the first on a tie).
 */
export function runAuction(input: AuctionInput): AuctionResult {
  const first = runGreedy(input, "rate");
  const second = runGreedy(input, "value");
  return second.welfare > first.welfare ? second : first;
}

/** How the greedy orders Customers. */
export type CustomerOrder = "rate" | "value" | "bid";

/** One greedy pass with the given Customer order (runAuction keeps the better of two). */
export function runGreedy(input: AuctionInput, order: CustomerOrder): AuctionResult {
  const { params } = input;
  const delays = params.delays ?? DEFAULT_DELAYS;
  const priceRule = params.priceRule ?? halfwayPrice;
  const now = params.nowSeconds;
  const earliest = now + delays.allocSeconds + delays.setupSeconds;
  if (params.penaltyRate <= 0n) throw new InvalidParameterError("penaltyRate", params.penaltyRate, "> 0");
  const maxTestCount = params.maxTestCount ?? MAX_TEST_COUNT;
  const maxScan = params.maxScan ?? DEFAULT_MAX_SCAN;
  const switchSeconds = params.switchSeconds ?? DEFAULT_SWITCH_SECONDS;
  let nonce = params.nonceBase ?? 0n;
  const voids: VoidAllocation[] = [];
  const voidOf = (id: `0x${string}`, account: Address): VoidAllocation => ({
    schemaVersion: SCHEMA_VERSION,
    allocator: params.allocator,
    offer: id,
    account,
    reason: "expired",
  });

  // 1. Suppliers, cheapest first, indexed by time.
  const sortedSuppliers = [...input.suppliers].sort(
    (a, b) => bigintAsc(a.offer.minPricePerMi, b.offer.minPricePerMi) || byId(a, b),
  );
  const live: LiveSupplier[] = [];
  for (const s of sortedSuppliers) {
    const start = Math.max(s.offer.start, earliest);
    if (s.offer.end <= start) {
      if (!s.commitments?.length) voids.push(voidOf(s.id, s.offer.account));
      continue;
    }
    live.push({
      open: s,
      start,
      end: s.offer.end,
      account: s.offer.account,
      mediators: new Set(s.offer.mediators),
      timeline: new CapacityTimeline(s.offer.capacityMips, s.offer.ramMb, s.offer.end, s.commitments),
    });
  }
  const asks = live.map((s) => s.open.offer.minPricePerMi);
  const index = new SupplierIndex(live);

  // 2. Customers, highest bid first.
  const key = (c: OpenCustomerOffer): number => {
    const o = c.offer;
    const bid = Number(o.maxPricePerMi);
    if (order === "value") return bid * requiredMips(o) * o.replicas * (o.end - o.start);
    if (order === "rate") return bid * requiredMips(o);
    return bid;
  };
  const customers = [...input.customers].sort((a, b) => key(b) - key(a) || byId(a, b));
  const allocations: PlannedAllocation[] = [];
  const outcomes: CustomerOutcome[] = [];
  let welfare = 0n;

  for (const c of customers) {
    const o = c.offer;
    const dMin = o.minServiceSeconds;
    if (isExpired(o, now, delays)) {
      if (isWholeWindow(c)) voids.push(voidOf(c.id, o.account));
      outcomes.push({ customerOfferId: c.id, pieces: [], stillOpen: [], closed: true });
      continue;
    }
    const mips = requiredMips(o);
    const bid = o.maxPricePerMi;
    // Suppliers [0, limit) ask at most the bid.
    let lo = 0;
    let hi = asks.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (asks[mid]! <= bid) lo = mid + 1;
      else hi = mid;
    }
    const limit = lo;
    const maxByTests = Math.floor((maxTestCount * Number(params.penaltyRate)) / o.inputsPerSecond);
    const maxChunk = Math.min(params.maxChunkSeconds ?? Infinity, maxByTests);
    const mediators = o.mediators.filter((m) => m !== o.account);
    const pieces: Array<{ start: number; end: number; allocation?: number }> = [];
    const unserved = (start: number, end: number) => {
      const last = pieces[pieces.length - 1];
      if (last && last.allocation === undefined && last.end === start) last.end = end;
      else pieces.push({ start, end });
    };

    for (const open of c.openWindows ?? [{ start: o.start, end: o.end }]) {
      const wEnd = Math.min(open.end, o.end);
      let t = Math.max(open.start, o.start, earliest);
      if (wEnd <= t) continue;
      while (wEnd - t >= dMin && maxChunk >= dMin && limit > 0) {
        const list = index.at(t);
        let nextFree = Infinity;
        // groups[j]: candidates sharing mediators[j], in ask order, distinct accounts.
        const groups: Array<Array<{ s: number; until: number }>> = mediators.map(() => []);
        const accounts: Array<Set<Address>> = mediators.map(() => new Set());
        let winner = -1;
        const tree = index.trees[index.slotOf(t)];
        if (list && tree) {
          // Positions [0, until) of the slot ask at most the bid (the list is in ask order).
          let lo = 0;
          let hi = list.length;
          while (lo < hi) {
            const mid = (lo + hi) >> 1;
            if (list[mid]! < limit) lo = mid + 1;
            else hi = mid;
          }
          const until = lo;
          let visited = 0;
          for (
            let k = tree.next(0, until, mips, o.ramMb);
            k >= 0 && visited < maxScan;
            k = tree.next(k + 1, until, mips, o.ramMb)
          ) {
            visited++;
            const i = list[k]!;
            if (i >= limit) break;
            const s = live[i]!;
            if (s.end - t < dMin) continue;
            const so = s.open.offer;
            if (so.capacityMips < mips || so.ramMb < o.ramMb || s.account === o.account) continue;
            let shares = false;
            for (let j = 0; j < mediators.length; j++) {
              if (s.mediators.has(mediators[j]!) && s.account !== mediators[j]) shares = true;
            }
            if (!shares) continue;
            if (s.start > t) {
              // Not there yet: the candidate set can grow when it arrives.
              if (s.start < nextFree) nextFree = s.start;
              continue;
            }
            const fit = s.timeline.fit(t, mips, o.ramMb, wEnd);
            if (!fit.ok) {
              if (fit.freeAt < nextFree) nextFree = fit.freeAt;
              continue;
            }
            const until = Math.min(fit.until, wEnd);
            if (until - t < dMin) continue;
            for (let j = 0; j < mediators.length; j++) {
              const m = mediators[j]!;
              if (!s.mediators.has(m) || s.account === m || accounts[j]!.has(s.account)) continue;
              accounts[j]!.add(s.account);
              groups[j]!.push({ s: i, until });
              if (groups[j]!.length === o.replicas && winner < 0) winner = j;
            }
            if (winner >= 0) break;
          }
        }
        if (winner < 0) {
          let best = 0;
          for (let j = 0; j < groups.length; j++) if (groups[j]!.length > best) best = groups[j]!.length;
          if (best >= o.minReplicas) winner = groups.findIndex((g) => g.length === best);
        }
        if (winner < 0) {
          let next = Math.min(index.slotEnd(t), Math.max(nextFree, t + dMin), wEnd);
          if (!(next > t)) next = wEnd;
          unserved(t, next);
          t = next;
          continue;
        }
        const chosen = groups[winner]!;
        let end = Math.min(wEnd, t + maxChunk);
        for (const { until } of chosen) end = Math.min(end, until);
        // A cheaper Supplier arrives or frees up before then: end the chunk there so the next one
        // can switch to it — but only after `switchSeconds`, so a chunk is worth its overhead.
        let dearest = 0;
        for (const { s } of chosen) if (s > dearest) dearest = s;
        let arrival = nextFree;
        const lastSlot = index.slotOf(end - 1);
        for (let k = index.slotOf(t) + 1; k <= lastSlot && arrival >= end; k++) {
          const later = index.slots[k];
          if (!later) break;
          const stop = Math.min(later.length, maxScan);
          for (let q = 0; q < stop; q++) {
            const i = later[q]!;
            if (i >= dearest) break;
            const s = live[i]!;
            if (s.start <= t || s.start >= arrival) continue;
            const so = s.open.offer;
            if (so.capacityMips < mips || so.ramMb < o.ramMb || s.account === o.account) continue;
            if (mediators.some((m) => s.mediators.has(m))) arrival = s.start;
          }
        }
        end = Math.min(end, Math.max(t + Math.max(dMin, switchSeconds), arrival));
        if (wEnd - end > 0 && wEnd - end < dMin && wEnd - dMin - t >= dMin) end = wEnd - dMin;
        const duration = end - t;
        const suppliers = chosen.map(({ s }) => live[s]!);
        const supplierAsks = suppliers.map((s) => s.open.offer.minPricePerMi);
        const volume = BigInt(o.miPerInput) * inputsPerReplica(o.inputsPerSecond, duration);
        let w = 0n;
        for (const a of supplierAsks) w += (bid - a) * volume;
        const allocation: Allocation = {
          schemaVersion: SCHEMA_VERSION,
          allocator: params.allocator,
          customer: o.account,
          suppliers: suppliers.map((s) => s.account),
          mediator: mediators[winner]!,
          customerOffer: c.id,
          supplierOffers: suppliers.map((s) => s.open.id),
          serviceHash: o.serviceHash,
          start: t,
          end,
          pricePerMi: priceRule.price([bid], supplierAsks),
          miPerInput: o.miPerInput,
          inputsPerSecond: o.inputsPerSecond,
          testCount: testCountFor(inputsPerReplica(o.inputsPerSecond, duration), params.penaltyRate),
          minReplicas: Math.min(o.minReplicas, suppliers.length),
          nonce: nonce++,
        };
        const commitment = { start: t, end, mips, ramMb: o.ramMb };
        for (const s of suppliers) s.timeline.add(commitment);
        for (const { s } of chosen) index.update(s, t, end);
        pieces.push({ start: t, end, allocation: allocations.length });
        allocations.push({
          allocation,
          customerOfferId: c.id,
          supplierOfferIds: allocation.supplierOffers,
          welfare: w,
          commitment,
        });
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
  return { allocations, voids, customers: outcomes, welfare };
}
