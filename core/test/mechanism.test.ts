// Round-level mechanisms (core/src/allocator/mechanism.ts): prices, the excluded pair, soundness
// of every mechanism's round, and monotonicity where the greedy can promise it.
import { getAddress } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Address,
  type AuctionInput,
  type AuctionResult,
  type Bytes32,
  checkRound,
  clearingOf,
  MECHANISMS,
  type MechanismName,
  mechanismByName,
  type OpenCustomerOffer,
  type OpenSupplierOffer,
  type PlannedAllocation,
  postedPriceOf,
  runAuction,
  SCHEMA_VERSION,
} from "../src/index.ts";

const T0 = 1_800_000_000;
const GRID = 600;
const account = (n: number) => getAddress(`0x${(n + 1).toString(16).padStart(40, "0")}`) as Address;
const id = (n: number) => `0x${(n + 1).toString(16).padStart(64, "0")}` as Bytes32;
const MEDIATORS = [account(9_000), account(9_001)];
const ALLOCATOR = account(9_999);

interface SupplierSpec {
  ask: number;
  cap?: number;
  start?: number;
  len?: number;
  meds?: number[];
}
interface CustomerSpec {
  bid: number;
  mips?: number;
  start?: number;
  len?: number;
  r?: number;
  meds?: number[];
}

/** A market: Suppliers are offers 0…, Customers 100…; windows in GRID steps from T0; the round at T0 + now·GRID. */
function market(
  suppliers: readonly SupplierSpec[],
  customers: readonly CustomerSpec[],
  now = -0.1,
): AuctionInput {
  const s: OpenSupplierOffer[] = suppliers.map((x, i) => ({
    id: id(i),
    offer: {
      kind: "supplier",
      schemaVersion: SCHEMA_VERSION,
      account: account(i),
      nonce: 1n,
      capacityMips: x.cap ?? 1_000,
      ramMb: 4_096,
      start: T0 + (x.start ?? 0) * GRID,
      end: T0 + ((x.start ?? 0) + (x.len ?? 6)) * GRID,
      minPricePerMi: BigInt(x.ask),
      mediators: (x.meds ?? [0]).map((k) => MEDIATORS[k]!),
    },
  }));
  const c: OpenCustomerOffer[] = customers.map((x, i) => ({
    id: id(100 + i),
    offer: {
      kind: "customer",
      schemaVersion: SCHEMA_VERSION,
      account: account(100 + i),
      nonce: 1n,
      serviceName: "svc",
      serviceHash: `0x${"cd".repeat(32)}` as Bytes32,
      miPerInput: (x.mips ?? 1_000) / 10,
      ramMb: 512,
      inputsPerSecond: 10,
      start: T0 + (x.start ?? 0) * GRID,
      end: T0 + ((x.start ?? 0) + (x.len ?? 6)) * GRID,
      maxPricePerMi: BigInt(x.bid),
      replicas: x.r ?? 1,
      minReplicas: 1,
      minServiceSeconds: GRID,
      mediators: (x.meds ?? [0]).map((k) => MEDIATORS[k]!),
    },
  }));
  return {
    customers: c,
    suppliers: s,
    params: { allocator: ALLOCATOR, nowSeconds: T0 + Math.round(now * GRID), penaltyRate: 1_000n },
  };
}

const withMechanism = (input: AuctionInput, name: MechanismName) =>
  runAuction({ ...input, params: { ...input.params, mechanism: mechanismByName(name) } });

/** Offer ids that trade in the round. */
const traders = (r: AuctionResult) =>
  new Set(r.allocations.flatMap((p) => [p.customerOfferId, ...p.supplierOfferIds]));

const NAMES = Object.keys(MECHANISMS) as MechanismName[];

describe("clearingOf (strict trade reduction over a round's trades)", () => {
  const trade = (customer: number, supplier: number): PlannedAllocation =>
    ({
      customerOfferId: id(100 + customer),
      supplierOfferIds: [id(supplier)],
    }) as unknown as PlannedAllocation;
  const bids = [10n, 8n, 6n, 2n];
  const asks = [1n, 3n, 5n, 9n];
  const bidOf = (x: Bytes32) => bids[Number(BigInt(x)) - 101]!;
  const askOf = (x: Bytes32) => asks[Number(BigInt(x)) - 1]!;

  it("prices at the k-th pair's midpoint and names that pair, which does not trade", () => {
    // Bids 10, 8, 6 meet asks 1, 3, 5 (k = 3): p = ⌊(6 + 5) / 2⌋.
    const clearing = clearingOf([trade(0, 0), trade(1, 1), trade(2, 2)], bidOf, askOf);
    expect(clearing).toEqual({ price: 5n, excludedCustomer: id(102), excludedSupplier: id(2) });
  });

  it("takes each allocation's dearest Supplier as its ask", () => {
    const both = {
      customerOfferId: id(100),
      supplierOfferIds: [id(0), id(2)],
    } as unknown as PlannedAllocation;
    expect(clearingOf([both], bidOf, askOf)).toEqual({
      price: 7n,
      excludedCustomer: id(100),
      excludedSupplier: id(2),
    });
  });

  it("is undefined for a round without trades", () => {
    expect(clearingOf([], bidOf, askOf)).toBeUndefined();
  });
});

describe("trade-reduction", () => {
  // One Mediator, one window, each Supplier hosts one replica: the greedy pairs bids 10, 8, 6 with asks 1, 3, 5.
  const input = market(
    [{ ask: 1 }, { ask: 3 }, { ask: 5 }, { ask: 9 }],
    [{ bid: 10 }, { bid: 8 }, { bid: 6 }, { bid: 2 }],
  );

  it("clears the round at one price without the k-th pair", () => {
    const result = withMechanism(input, "trade-reduction");
    expect(checkRound(input, result)).toEqual([]);
    expect(new Set(result.allocations.map((p) => p.allocation.pricePerMi))).toEqual(new Set([5n]));
    expect([...traders(result)].sort()).toEqual([id(0), id(1), id(100), id(101)]);
    // Nonces restart from the base, and the excluded Customer's window is open again.
    expect(result.allocations.map((p) => p.allocation.nonce)).toEqual([0n, 1n]);
    const excluded = result.customers.find((o) => o.customerOfferId === id(102))!;
    expect(excluded.pieces.every((p) => p.allocation === undefined)).toBe(true);
    expect(excluded.stillOpen.length).toBeGreaterThan(0);
  });

  it("keeps every trade under k-double, each at its own midpoint", () => {
    const result = withMechanism(input, "k-double");
    const bid = new Map(input.customers.map((c) => [c.id, c.offer.maxPricePerMi]));
    const ask = new Map(input.suppliers.map((x) => [x.id, x.offer.minPricePerMi]));
    expect(
      result.allocations.map((p) => [bid.get(p.customerOfferId), ask.get(p.supplierOfferIds[0]!)]),
    ).toEqual([
      [10n, 1n],
      [8n, 3n],
      [6n, 5n],
    ]);
    for (const p of result.allocations)
      expect(p.allocation.pricePerMi).toBe(
        (bid.get(p.customerOfferId)! + ask.get(p.supplierOfferIds[0]!)!) / 2n,
      );
  });

  it("a lone pair does not trade (k = 1)", () => {
    const lone = market([{ ask: 1 }], [{ bid: 10 }]);
    expect(withMechanism(lone, "trade-reduction").allocations).toEqual([]);
  });
});

describe("posted-price", () => {
  it("the first Supplier whose cheaper Suppliers cover twice the demand at its ask sets the price and does not trade", () => {
    // Demand 1 000 MIPS over the window; Suppliers of 1 000 MIPS each: the two cheaper cover 2×.
    const input = market([{ ask: 5 }, { ask: 7 }, { ask: 9 }, { ask: 11 }], [{ bid: 20 }]);
    expect(postedPriceOf(input, 2)).toEqual({ price: 9n, excludedSupplier: id(2) });
    const result = withMechanism(input, "posted-price");
    expect(checkRound(input, result)).toEqual([]);
    expect(result.allocations.map((p) => [p.supplierOfferIds, p.allocation.pricePerMi])).toEqual([
      [[id(0)], 9n],
    ]);
  });

  // Attack: a Customer (or anyone) adds a Supplier offer it never means to serve, with a low ask and
  // a huge capacity. If its own supply could make it the Supplier that sets the price, it would
  // lower the price and, as the price setter, never trade: a free manipulation.
  it("a shill Supplier offer cannot set the price without being one that may trade", () => {
    const honest = market([{ ask: 5 }, { ask: 7 }, { ask: 9 }], [{ bid: 20 }]);
    const attacked = market([{ ask: 5 }, { ask: 7 }, { ask: 9 }, { ask: 6, cap: 64_000 }], [{ bid: 20 }]);
    expect(postedPriceOf(honest, 2)).toEqual({ price: 9n, excludedSupplier: id(2) });
    // More supply may lower the price, but then the shill accepts it and may be allocated.
    const after = postedPriceOf(attacked, 2)!;
    expect(after.excludedSupplier).not.toBe(id(3));
    expect(after.price).toBeGreaterThanOrEqual(6n);
  });

  it("a Customer bidding below the price is left out, with its window still open", () => {
    const input = market([{ ask: 5 }, { ask: 7 }, { ask: 9 }], [{ bid: 20 }, { bid: 6, start: 6 }]);
    const result = withMechanism(input, "posted-price");
    expect(result.allocations.every((p) => p.customerOfferId === id(100))).toBe(true);
    expect(result.customers.map((o) => o.customerOfferId)).toEqual([id(100), id(101)]);
    expect(result.customers[1]!.closed).toBe(false);
  });
});

describe("every mechanism", () => {
  const specArb = fc.record({
    suppliers: fc.array(
      fc.record({
        ask: fc.integer({ min: 50, max: 150 }),
        cap: fc.constantFrom(1_000, 2_000, 4_000),
        start: fc.integer({ min: 0, max: 6 }),
        len: fc.integer({ min: 1, max: 8 }),
        meds: fc.subarray([0, 1], { minLength: 1 }),
      }),
      { maxLength: 12 },
    ),
    customers: fc.array(
      fc.record({
        bid: fc.integer({ min: 50, max: 170 }),
        mips: fc.constantFrom(500, 1_000, 2_000),
        start: fc.integer({ min: 0, max: 6 }),
        len: fc.integer({ min: 1, max: 8 }),
        r: fc.integer({ min: 1, max: 2 }),
        meds: fc.subarray([0, 1], { minLength: 1 }),
      }),
      { maxLength: 12 },
    ),
    now: fc.integer({ min: -1, max: 4 }),
  });

  it("gives a sound round: feasible, every trade at one price per allocation within its bid and asks", () => {
    fc.assert(
      fc.property(specArb, fc.constantFrom(...NAMES), (spec, name) => {
        const input = market(spec.suppliers, spec.customers, spec.now);
        const result = withMechanism(input, name);
        // Voids depend on expiry alone: every mechanism voids what the greedy voids.
        const voided = (r: AuctionResult) => r.voids.map((v) => v.offer).sort();
        expect(voided(result)).toEqual(voided(runAuction(input)));
        expect(checkRound(input, result)).toEqual([]);
        expect(result.customers.map((o) => o.customerOfferId).sort()).toEqual(
          input.customers.map((c) => c.id).sort(),
        );
        // Each served piece names an allocation of its Customer over exactly that piece; pieces ascend.
        for (const o of result.customers) {
          o.pieces.forEach((piece, i) => {
            if (i > 0) expect(piece.start).toBeGreaterThanOrEqual(o.pieces[i - 1]!.end);
            if (piece.allocation === undefined) return;
            const a = result.allocations[piece.allocation]!;
            expect([a.customerOfferId, a.allocation.start, a.allocation.end]).toEqual([
              o.customerOfferId,
              piece.start,
              piece.end,
            ]);
          });
        }
        // Welfare is the true Σ (bid − ask)·work of what trades.
        let welfare = 0n;
        for (const p of result.allocations) welfare += p.welfare;
        expect(result.welfare).toBe(welfare);
        if (name !== "k-double")
          expect(new Set(result.allocations.map((p) => p.allocation.pricePerMi)).size).toBeLessThanOrEqual(1);
      }),
      { numRuns: 150 },
    );
  });

  // Where the greedy can promise it (one Mediator, one window, unit Suppliers: the greedy is the
  // sorted matching), a higher bid never costs a Customer its trade.
  it("monotone in one-dimensional markets: a trading Customer that bids more still trades", () => {
    const unitArb = fc.record({
      asks: fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 8 }),
      bids: fc.array(fc.integer({ min: 1, max: 100 }), { minLength: 1, maxLength: 8 }),
      raise: fc.integer({ min: 1, max: 50 }),
      pick: fc.nat(),
    });
    fc.assert(
      fc.property(
        unitArb,
        fc.constantFrom<MechanismName>("k-double", "trade-reduction", "posted-price"),
        (m, name) => {
          const input = market(
            m.asks.map((ask) => ({ ask })),
            m.bids.map((bid) => ({ bid })),
          );
          const before = traders(withMechanism(input, name));
          const trading = m.bids.map((_, i) => i).filter((i) => before.has(id(100 + i)));
          fc.pre(trading.length > 0);
          const k = trading[m.pick % trading.length]!;
          const raised = market(
            m.asks.map((ask) => ({ ask })),
            m.bids.map((bid, i) => ({ bid: i === k ? bid + m.raise : bid })),
          );
          expect(traders(withMechanism(raised, name)).has(id(100 + k))).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("names an unknown mechanism in its error", () => {
    expect(() => mechanismByName("vickrey")).toThrow(/vickrey/);
  });
});
