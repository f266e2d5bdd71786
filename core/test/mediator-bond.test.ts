// Issue 16, the Mediator's skin in the game: `open` locks the Mediator's bond r·(P + D), so the
// auction must not name a Mediator whose free balance in the market cannot cover it. The
// allocation goes to a funded Mediator, or to none, with the reason in the offer's status.
import { describe, expect, it } from "vitest";
import {
  type Address,
  type CustomerOffer,
  checkRound,
  locksOf,
  type MarketFees,
  MECHANISMS,
  roundStatuses,
  runAuction,
  type SupplierOffer,
  shortMediators,
} from "../src/index.ts";
import { account, auctionParams, offerMakers } from "./auction-fixtures.ts";

const SHORT = account(9_000);
const FUNDED = account(9_001);
const fees: MarketFees = { penaltyRate: 1_000n, allocatorFee: 10n, mediatorFee: 20n };

// The short Mediator first: on a tie the Customer's own order decides, so unchecked it wins.
const offers = offerMakers([SHORT, FUNDED]);
const supplier = (o: Partial<SupplierOffer> = {}) => offers.supplier(o);
const customer = (o: Partial<CustomerOffer> = {}) => offers.customer({ replicas: 2, ...o });
const params = auctionParams;
const bondOf = (a: Parameters<typeof locksOf>[0]) => locksOf(a, fees).get(a.mediator)!;

describe("the Mediator's bond", () => {
  it("without balances the auction is as before: the Customer's first Mediator wins the tie", () => {
    const result = runAuction({
      customers: [customer()],
      suppliers: [supplier(), supplier()],
      params: params(),
    });
    expect(result.allocations.map((p) => p.allocation.mediator)).toEqual([SHORT]);
  });

  it("goes to the funded Mediator when the Customer's first one cannot cover its bond", () => {
    const c = customer();
    const s = [supplier(), supplier()];
    const unchecked = runAuction({ customers: [c], suppliers: s, params: params() });
    const bond = bondOf(unchecked.allocations[0]!.allocation);
    // One base unit short of the bond.
    const free = new Map([
      [SHORT, bond - 1n],
      [FUNDED, bond],
    ]);
    const input = { customers: [c], suppliers: s, params: params({ mediatorFunds: { free, fees } }) };

    const result = runAuction(input);

    expect(result.allocations.map((p) => p.allocation.mediator)).toEqual([FUNDED]);
    expect(result.allocations[0]!.allocation.suppliers).toHaveLength(2);
    expect(shortMediators(result.allocations, free, fees)).toEqual([]);
    expect(result.shortMediators?.map((u) => [u.account, u.needs, u.free])).toEqual([
      [SHORT, bond, bond - 1n],
    ]);
    expect(checkRound(input, result)).toEqual([]);
  });

  it("holds under every round-level mechanism (they price the round, so the bond, themselves)", () => {
    const c = customer();
    const s = [supplier(), supplier()];
    const checked: string[] = [];
    for (const mechanism of Object.values(MECHANISMS)) {
      const unchecked = runAuction({ customers: [c], suppliers: s, params: params({ mechanism }) });
      if (unchecked.allocations.length === 0) continue; // this mechanism trades nothing here
      const bond = bondOf(unchecked.allocations[0]!.allocation);
      const free = new Map([
        [SHORT, bond - 1n],
        [FUNDED, bond],
      ]);
      const result = runAuction({
        customers: [c],
        suppliers: s,
        params: params({ mechanism, mediatorFunds: { free, fees } }),
      });
      expect(result.allocations.map((p) => [mechanism.name, p.allocation.mediator])).toEqual([
        [mechanism.name, FUNDED],
      ]);
      checked.push(mechanism.name);
    }
    // At least the default (k-double) trades here, so the loop is not empty.
    expect(checked).toContain("k-double");
  });

  it("counts every allocation a Mediator bonds, in the auction's order", () => {
    const cs = [customer(), customer()];
    const s = [supplier(), supplier(), supplier(), supplier()];
    const unchecked = runAuction({ customers: cs, suppliers: s, params: params() });
    expect(unchecked.allocations.map((p) => p.allocation.mediator)).toEqual([SHORT, SHORT]);
    // Enough for one bond, not for both.
    const free = new Map([
      [SHORT, bondOf(unchecked.allocations[0]!.allocation)],
      [FUNDED, 10n ** 30n],
    ]);
    expect(shortMediators(unchecked.allocations, free, fees).map((u) => u.account)).toEqual([SHORT]);

    const result = runAuction({
      customers: cs,
      suppliers: s,
      params: params({ mediatorFunds: { free, fees } }),
    });

    expect(result.allocations).toHaveLength(2);
    expect(shortMediators(result.allocations, free, fees)).toEqual([]);
  });

  it("allocates nothing when no Mediator can cover it, and the offer's status says why", () => {
    const c = customer({ mediators: [SHORT] });
    const s = [supplier(), supplier()];
    // A Mediator missing from the balances holds nothing.
    const free = new Map<Address, bigint>([[FUNDED, 10n ** 30n]]);
    const input = { customers: [c], suppliers: s, params: params({ mediatorFunds: { free, fees } }) };

    const result = runAuction(input);

    expect(result.allocations).toEqual([]);
    expect(result.customers[0]!.closed).toBe(false);
    const status = roundStatuses(input, result, new Map()).get(c.id);
    expect(status?.state).toBe("open");
    expect(status?.reason).toMatch(
      new RegExp(
        `^no Mediator it trusts can cover its bond r·\\(P \\+ D\\) in the market: ${SHORT} has 0 free`,
      ),
    );
  });
});
