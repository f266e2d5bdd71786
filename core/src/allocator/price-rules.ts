// Price rules for one allocation: one Customer bid (π_xmax) and the asks (π_xmin) of its r
// Suppliers. Every rule returns a price in [max(asks), bid], so each party trades at a price it
// accepted (individual rationality), and the Customer's payment equals what the Suppliers are
// paid (budget balance: the contract moves money between them and keeps nothing).
import { InvalidParameterError } from "../errors.ts";
import { maxOf, minOf, type PriceRule } from "../pricing.ts";

/**
 * k-double auction (Chatterjee–Samuelson; Satterthwaite–Williams): π = a + k·(b − a) with
 * b = the lowest bid and a = the highest ask among the offers of the trade, rounded down.
 * Efficient (it never excludes a trade, so the greedy's welfare is kept in full), individually
 * rational and budget balanced; not truthful (a Customer gains by shading its bid, a Supplier by
 * raising its ask). k = ½ splits the surplus evenly.
 */
export function kDoublePrice(kNumerator: bigint, kDenominator: bigint): PriceRule {
  if (kDenominator <= 0n || kNumerator < 0n || kNumerator > kDenominator) {
    throw new InvalidParameterError("k", `${kNumerator}/${kDenominator}`, "a fraction in [0, 1]");
  }
  return {
    name: `k-double(${kNumerator}/${kDenominator})`,
    price(bids, asks) {
      if (bids.length === 0 || asks.length === 0)
        throw new InvalidParameterError("offers", 0, "at least one bid and one ask");
      const bid = minOf(bids);
      const ask = maxOf(asks);
      if (ask > bid) throw new InvalidParameterError("prices", `${ask} > ${bid}`, "ask ≤ bid");
      return ask + ((bid - ask) * kNumerator) / kDenominator;
    },
  };
}

/** The default: k = ½. */
export const halfwayPrice: PriceRule = kDoublePrice(1n, 2n);

/**
 * A uniform price for a whole round with McAfee's trade reduction, for markets that want
 * truthfulness more than welfare. Given every open bid and ask, with bids sorted descending
 * b_1 ≥ b_2 ≥ … and asks ascending a_1 ≤ a_2 ≤ …, and k the last index with b_k ≥ a_k:
 * p₀ = (b_{k+1} + a_{k+1}) / 2 when both exist; if a_k ≤ p₀ ≤ b_k the price is p₀ and all k
 * trade, otherwise the k-th pair is excluded and the price is (b_k + a_k) / 2.
 * Offers then trade only if bid ≥ p (Customers) or ask ≤ p (Suppliers). For single-unit,
 * homogeneous offers this is dominant-strategy truthful, budget balanced and loses at most one
 * of the efficient trades (McAfee 1992); with our heterogeneous offers it is a heuristic. A round
 * priced so (the strict form: the k-th pair never trades) is mechanism.ts's trade-reduction.
 * Returns undefined when no bid meets an ask.
 */
export function tradeReductionPrice(bids: readonly bigint[], asks: readonly bigint[]): bigint | undefined {
  const b = [...bids].sort((x, y) => (x > y ? -1 : x < y ? 1 : 0));
  const a = [...asks].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  let k = 0;
  while (k < b.length && k < a.length && b[k]! >= a[k]!) k++;
  if (k === 0) return undefined;
  const bk = b[k - 1]!;
  const ak = a[k - 1]!;
  const bNext = b[k];
  const aNext = a[k];
  if (bNext !== undefined && aNext !== undefined) {
    const p0 = (bNext + aNext) / 2n;
    if (ak <= p0 && p0 <= bk) return p0;
  }
  return (bk + ak) / 2n;
}

/** A rule that charges a fixed uniform price (e.g. from tradeReductionPrice) to every trade it is given. */
export function uniformPrice(price: bigint): PriceRule {
  return {
    name: `uniform(${price})`,
    price(bids, asks) {
      const bid = minOf(bids);
      const ask = maxOf(asks);
      if (price < ask || price > bid)
        throw new InvalidParameterError("price", price, `within [${ask}, ${bid}] of the trade`);
      return price;
    },
  };
}
