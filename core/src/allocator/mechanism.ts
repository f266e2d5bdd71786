// Round-level mechanisms: how a round's prices are set and which trades it keeps (issue 18).
//
// The greedy (auction/) chooses the allocations from the reported prices; a mechanism wraps it.
// Per-allocation rules (price-rules.ts) see one allocation at a time; a mechanism sees the whole
// round, so it can clear the round at one price and leave out the offer that set that price, as
// McAfee's trade reduction does. What each promises is in the README ("Allocator mechanisms") and
// is measured by `./surplus bench strategy`:
//  - k-double: every trade the greedy found, each at its own k-double price (½). Individually
//    rational, budget balanced, all the greedy's welfare; not truthful.
//  - trade-reduction: one price for the round from the k-th pair of the greedy's trades, which
//    does not trade; trades that do not bracket the price are dropped. Truthful for single-unit,
//    homogeneous offers (McAfee 1992); here every report moves the greedy's trades, so the price.
//  - posted-price: one price from the offers' supply and demand (not from the greedy's trades), set
//    by a Supplier that does not trade; the greedy matches the offers that accept it, blind to the
//    Suppliers' asks. A report only decides whether its offer accepts the price.
//  - posted-price-ranked: the same with the Suppliers ranked by ask (more welfare, less truthful).
import { InvalidParameterError } from "../errors.ts";
import type { Allocation, Bytes32, CustomerOffer } from "../schemas.ts";
import { kDoublePrice, uniformPrice } from "./price-rules.ts";
import type { AuctionInput, AuctionResult, CustomerOutcome, PlannedAllocation } from "./types.ts";

/** The greedy over an input (its own params, without a mechanism). */
export type Greedy = (input: AuctionInput) => AuctionResult;

export interface RoundMechanism {
  readonly name: MechanismName;
  /** One round: runs `greedy` (once or more) and prices what it keeps. */
  run(input: AuctionInput, greedy: Greedy): AuctionResult;
}

export const MechanismName = {
  KDouble: "k-double",
  TradeReduction: "trade-reduction",
  PostedPrice: "posted-price",
  RankedPostedPrice: "posted-price-ranked",
} as const;
export type MechanismName = (typeof MechanismName)[keyof typeof MechanismName];

/** The default mechanism of runAuction (see the README for why). */
export const DEFAULT_MECHANISM: MechanismName = MechanismName.KDouble;

/** The k-double auction per allocation (k = ½ unless the params name another priceRule). */
export const kDoubleMechanism: RoundMechanism = {
  name: MechanismName.KDouble,
  run: (input, greedy) =>
    greedy(
      input.params.priceRule
        ? input
        : { ...input, params: { ...input.params, priceRule: kDoublePrice(1n, 2n) } },
    ),
};

/** The round's clearing price and the pair that set it (and does not trade). */
export interface Clearing {
  readonly price: bigint;
  readonly excludedCustomer: Bytes32;
  readonly excludedSupplier: Bytes32;
}

/**
 * Strict trade reduction over a round's trades: each allocation is one bid (its Customer's
 * π_xmax) and one ask (its dearest Supplier's π_xmin). With bids sorted descending and asks
 * ascending (ties by offer id) and k the last index where b_k ≥ a_k, the price is
 * ⌊(b_k + a_k) / 2⌋ and the offers of b_k and a_k do not trade. Undefined when there is no trade.
 */
export function clearingOf(
  allocations: readonly PlannedAllocation[],
  bidOf: (customerOfferId: Bytes32) => bigint,
  askOf: (supplierOfferId: Bytes32) => bigint,
): Clearing | undefined {
  const bids: Array<{ price: bigint; id: Bytes32 }> = [];
  const asks: Array<{ price: bigint; id: Bytes32 }> = [];
  for (const p of allocations) {
    bids.push({ price: bidOf(p.customerOfferId), id: p.customerOfferId });
    let dearest = p.supplierOfferIds[0]!;
    for (const s of p.supplierOfferIds) if (askOf(s) > askOf(dearest)) dearest = s;
    asks.push({ price: askOf(dearest), id: dearest });
  }
  if (bids.length === 0) return undefined;
  const byIdThen = (a: { id: Bytes32 }, b: { id: Bytes32 }) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0);
  bids.sort((a, b) => (a.price > b.price ? -1 : a.price < b.price ? 1 : byIdThen(a, b)));
  asks.sort((a, b) => (a.price < b.price ? -1 : a.price > b.price ? 1 : byIdThen(a, b)));
  let k = 0;
  while (k < bids.length && bids[k]!.price >= asks[k]!.price) k++;
  if (k === 0) return undefined;
  const b = bids[k - 1]!;
  const a = asks[k - 1]!;
  return { price: (b.price + a.price) / 2n, excludedCustomer: b.id, excludedSupplier: a.id };
}

/** Reported prices of the input's offers, by offer id. */
function reportsOf(input: AuctionInput) {
  const bids = new Map(input.customers.map((c) => [c.id, c.offer.maxPricePerMi]));
  const asks = new Map(input.suppliers.map((s) => [s.id, s.offer.minPricePerMi]));
  return {
    bidOf: (id: Bytes32) => bids.get(id)!,
    askOf: (id: Bytes32) => asks.get(id)!,
  };
}

/**
 * The allocations of `result` that `keep` accepts, priced `price`, renumbered from the nonce base,
 * with each Customer's pieces of the dropped ones unserved again (and open for a later round).
 */
export function keepAllocations(
  input: AuctionInput,
  result: AuctionResult,
  keep: (p: PlannedAllocation) => boolean,
  price: bigint,
): AuctionResult {
  const minService = new Map(input.customers.map((c) => [c.id, c.offer.minServiceSeconds]));
  const renumbered = new Map<number, number>();
  const allocations: PlannedAllocation[] = [];
  let nonce = input.params.nonceBase ?? 0n;
  result.allocations.forEach((p, k) => {
    if (!keep(p)) return;
    renumbered.set(k, allocations.length);
    const allocation: Allocation = { ...p.allocation, pricePerMi: price, nonce: nonce++ };
    allocations.push({ ...p, allocation });
  });
  const customers = result.customers.map((o) =>
    unserveDropped(o, renumbered, minService.get(o.customerOfferId)!),
  );
  let welfare = 0n;
  for (const p of allocations) welfare += p.welfare;
  return { allocations, voids: result.voids, customers, welfare };
}

/** A Customer's outcome with the pieces of dropped allocations unserved (merged with unserved neighbours). */
function unserveDropped(
  outcome: CustomerOutcome,
  renumbered: ReadonlyMap<number, number>,
  minServiceSeconds: number,
): CustomerOutcome {
  if (outcome.pieces.every((p) => p.allocation === undefined || renumbered.has(p.allocation))) {
    return {
      ...outcome,
      pieces: outcome.pieces.map((p) =>
        p.allocation === undefined
          ? p
          : { start: p.start, end: p.end, allocation: renumbered.get(p.allocation)! },
      ),
    };
  }
  const pieces: Array<{ start: number; end: number; allocation?: number }> = [];
  for (const p of outcome.pieces) {
    const kept = p.allocation === undefined ? undefined : renumbered.get(p.allocation);
    const last = pieces[pieces.length - 1];
    if (kept !== undefined) pieces.push({ start: p.start, end: p.end, allocation: kept });
    else if (last && last.allocation === undefined && last.end === p.start) last.end = p.end;
    else pieces.push({ start: p.start, end: p.end });
  }
  const stillOpen = pieces
    .filter((p) => p.allocation === undefined && p.end - p.start >= minServiceSeconds)
    .map(({ start, end }) => ({ start, end }));
  return { customerOfferId: outcome.customerOfferId, pieces, stillOpen, closed: stillOpen.length === 0 };
}

/** Strict trade reduction after the greedy: trades at the round's price p; the k-th pair and trades not bracketing p are dropped. */
export const tradeReductionMechanism: RoundMechanism = {
  name: MechanismName.TradeReduction,
  run(input, greedy) {
    const result = greedy(input);
    const { bidOf, askOf } = reportsOf(input);
    const clearing = clearingOf(result.allocations, bidOf, askOf);
    if (!clearing) return result;
    const { price, excludedCustomer, excludedSupplier } = clearing;
    return keepAllocations(
      input,
      result,
      (p) =>
        p.customerOfferId !== excludedCustomer &&
        bidOf(p.customerOfferId) >= price &&
        p.supplierOfferIds.every((s) => s !== excludedSupplier && askOf(s) <= price),
      price,
    );
  },
};

/** Σ over replicas of (π_xmax − π_xmin(s))·I_c·λ·Δ from the true reports. */
function welfareOf(p: PlannedAllocation, customer: CustomerOffer, askOf: (id: Bytes32) => bigint): bigint {
  const a = p.allocation;
  const work = BigInt(a.miPerInput) * BigInt(a.inputsPerSecond) * BigInt(a.end - a.start);
  let gap = 0n;
  for (const s of p.supplierOfferIds) gap += customer.maxPricePerMi - askOf(s);
  return gap * work;
}

/**
 * The round's price from the offers alone, not from the greedy's trades (so a report moves it only
 * where it crosses the margin): Suppliers by ask ascending (then id), the first Supplier i such
 * that the cheaper Suppliers' supply S = Σ_{j < i} I_s·(s_end − s_start) reaches `cover` × the
 * demand of the Customers bidding at least its ask, D(a_i) = Σ I_c·λ·r·(c_end − c_start), sets the
 * price a_i and does not trade. `cover` > 1 because windows, Mediators and RAM leave part of the
 * supply unusable. When no Supplier is such, every Supplier may trade, at the dearest ask.
 * Undefined without Suppliers.
 */
export function postedPriceOf(
  input: AuctionInput,
  cover: number,
): { readonly price: bigint; readonly excludedSupplier?: Bytes32 } | undefined {
  const suppliers = [...input.suppliers].sort((a, b) =>
    a.offer.minPricePerMi < b.offer.minPricePerMi
      ? -1
      : a.offer.minPricePerMi > b.offer.minPricePerMi
        ? 1
        : a.id < b.id
          ? -1
          : a.id > b.id
            ? 1
            : 0,
  );
  const demand = [...input.customers]
    .map((c) => ({
      bid: c.offer.maxPricePerMi,
      volume: c.offer.miPerInput * c.offer.inputsPerSecond * c.offer.replicas * (c.offer.end - c.offer.start),
    }))
    .sort((a, b) => (a.bid < b.bid ? -1 : a.bid > b.bid ? 1 : 0));
  // Demand at price x: the volume of the Customers bidding at least x (a suffix of `demand`).
  let totalDemand = 0;
  for (const d of demand) totalDemand += d.volume;
  let below = 0;
  let dropped = 0;
  let supply = 0;
  for (const s of suppliers) {
    const ask = s.offer.minPricePerMi;
    while (below < demand.length && demand[below]!.bid < ask) dropped += demand[below++]!.volume;
    // Only the cheaper Suppliers' supply counts: an offer that never trades (the price setter)
    // must not set the price by its own capacity (a shill with a huge one would, for free).
    if (supply >= cover * (totalDemand - dropped)) return { price: ask, excludedSupplier: s.id };
    supply += s.offer.capacityMips * (s.offer.end - s.offer.start);
  }
  const last = suppliers[suppliers.length - 1];
  return last ? { price: last.offer.minPricePerMi } : undefined;
}

export interface PostedPriceOptions {
  /**
   * Supply over demand at which the price is set (postedPriceOf). 1.5 gave the most welfare of
   * 1, 1.25, 1.5, 2 and 2.5 on 20 bench-shaped markets (seeds apart from the strategy bench's).
   * @default 1.5
   */
  readonly cover?: number;
  /**
   * The greedy ranks the Suppliers that accept p by their asks (cheapest first) instead of by
   * offer id. Welfare gains, truthfulness does not: an ask below p costs nothing (every trade is
   * at p) and moves the Supplier ahead. @default false
   */
  readonly rankSuppliers?: boolean;
}

/**
 * A posted price: postedPriceOf sets p; the Customers bidding at least p and the Suppliers asking
 * at most p (but the one that set p) are matched by the greedy, every trade at p. The greedy sees
 * every accepting bid as p + 1 and every accepting ask as p (`rankSuppliers` aside), so it ranks
 * by volume and offer id and a report only decides whether its offer accepts p. One greedy run.
 */
export function postedPriceMechanism(options: PostedPriceOptions = {}): RoundMechanism {
  const cover = options.cover ?? 1.5;
  const rankSuppliers = options.rankSuppliers ?? false;
  return {
    name: rankSuppliers ? MechanismName.RankedPostedPrice : MechanismName.PostedPrice,
    run(input, greedy) {
      const posted = postedPriceOf(input, cover);
      if (!posted) return greedy(input);
      const { price, excludedSupplier } = posted;
      const { askOf } = reportsOf(input);
      const customers = input.customers.filter((c) => c.offer.maxPricePerMi >= price);
      const suppliers = input.suppliers.filter(
        (s) => s.id !== excludedSupplier && s.offer.minPricePerMi <= price,
      );
      const result = greedy({
        // Every accepting bid p + 1 (a Customer that ranked by its bid would bid high to go first:
        // the bench found 7 of 145 gaining so, against 1 of 145 without, at cover 2).
        customers: customers.map((c) => ({ ...c, offer: { ...c.offer, maxPricePerMi: price + 1n } })),
        // Every ask p: the greedy ranks them by offer id (the true welfare is counted below).
        suppliers: rankSuppliers
          ? suppliers
          : suppliers.map((s) => ({ ...s, offer: { ...s.offer, minPricePerMi: price } })),
        params: { ...input.params, priceRule: uniformPrice(price) },
      });
      const offers = new Map<Bytes32, CustomerOffer>(input.customers.map((c) => [c.id, c.offer]));
      const allocations = result.allocations.map((p) => ({
        ...p,
        welfare: welfareOf(p, offers.get(p.customerOfferId)!, askOf),
      }));
      let welfare = 0n;
      for (const p of allocations) welfare += p.welfare;
      // The offers left out are unserved, as they were; voids depend on expiry alone (no matching),
      // so the greedy over each side alone gives their outcomes and voids at little cost.
      const eligible = new Set([...customers.map((c) => c.id), ...suppliers.map((s) => s.id)]);
      const rest = greedy({
        ...input,
        customers: input.customers.filter((c) => !eligible.has(c.id)),
        suppliers: [],
      });
      const idle = greedy({
        ...input,
        customers: [],
        suppliers: input.suppliers.filter((s) => !eligible.has(s.id)),
      });
      const outcomes = [...result.customers, ...rest.customers].sort((a, b) =>
        a.customerOfferId < b.customerOfferId ? -1 : a.customerOfferId > b.customerOfferId ? 1 : 0,
      );
      return {
        allocations,
        voids: [...result.voids, ...rest.voids, ...idle.voids],
        customers: outcomes,
        welfare,
      };
    },
  };
}

export const MECHANISMS: Readonly<Record<MechanismName, RoundMechanism>> = {
  [MechanismName.KDouble]: kDoubleMechanism,
  [MechanismName.TradeReduction]: tradeReductionMechanism,
  [MechanismName.PostedPrice]: postedPriceMechanism(),
  [MechanismName.RankedPostedPrice]: postedPriceMechanism({ rankSuppliers: true }),
};

/** The mechanism of a name (a market's configuration). */
export function mechanismByName(name: string): RoundMechanism {
  const m = (MECHANISMS as Record<string, RoundMechanism | undefined>)[name];
  if (!m) throw new InvalidParameterError("mechanism", name, `one of ${Object.keys(MECHANISMS).join(", ")}`);
  return m;
}
