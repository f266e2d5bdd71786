// The Customer orders of the greedy passes (docs/auction.md, step 4): each pass serves the waiting
// Customers highest key first, ties by offer id.
import type { Market } from "./market.ts";

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

/** Each Customer's priority key under an order (higher first). */
export function orderKeys(market: Market, order: CustomerOrder): Float64Array {
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
export function sortByKeys(keys: Float64Array): Int32Array {
  return Int32Array.from(keys.keys()).sort((a, b) => keys[b]! - keys[a]! || a - b);
}
