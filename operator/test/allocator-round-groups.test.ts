import type { Bytes32, PlannedAllocation } from "@surplus/core";
import { describe, expect, it } from "vitest";
import { groupShares, type Share } from "../src/allocator/offer-round.ts";

const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Bytes32;
/** A Customer offer's share with `allocations` allocations over these Supplier offers. */
function share(customer: number, suppliers: number[], allocations = 1): Share {
  return {
    customerOfferId: id(1_000 + customer),
    version: 0,
    kept: Array.from({ length: allocations }, () => ({}) as PlannedAllocation),
    reopened: [],
    suppliers: new Set(suppliers.map(id)),
  };
}
/** The deployed registry's commit limit (DynamoDB's TransactWriteItems). */
const LIMIT = 100;
const names = (groups: Share[][]) =>
  groups.map((g) => g.map((s) => Number(BigInt(s.customerOfferId) - 1_000n)));

describe("groupShares", () => {
  it("packs shares that take from different Supplier offers into one transaction while they fit", () => {
    expect(names(groupShares([share(1, [1]), share(2, [2]), share(3, [])], LIMIT))).toEqual([[1, 2, 3]]);
    expect(names(groupShares([share(1, [1], 60), share(2, [2], 60)], LIMIT))).toEqual([[1], [2]]);
  });

  it("joins the groups a later share links", () => {
    expect(names(groupShares([share(1, [1], 30), share(2, [2], 30), share(3, [1, 2], 30)], LIMIT))).toEqual([
      [1, 2, 3],
    ]);
    // Share 3 links 1 and 2 but does not fit with both: it joins 1; 2 is committed after them.
    expect(names(groupShares([share(1, [1], 40), share(2, [2], 40), share(3, [1, 2], 40)], LIMIT))).toEqual([
      [1, 3],
      [2],
    ]);
  });

  it("never puts more than 100 items in one group", () => {
    // Each share: 1 Customer offer + 32 allocations + its Supplier offers; all three need 103 items.
    const shares = [share(1, [1, 2], 32), share(2, [2, 3], 32), share(3, [3, 4], 32)];

    const groups = groupShares(shares, LIMIT);

    expect(names(groups)).toEqual([[1, 2], [3]]);
    for (const g of groups) {
      const suppliers = new Set(g.flatMap((s) => [...s.suppliers]));
      expect(g.reduce((n, s) => n + 1 + s.kept.length, 0) + suppliers.size).toBeLessThanOrEqual(100);
    }
  });
});
