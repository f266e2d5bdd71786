import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type Bytes32,
  type CustomerOffer,
  CustomerOrder,
  checkRound,
  DEFAULT_DELAYS,
  kDoublePrice,
  type OpenCustomerOffer,
  type OpenSupplierOffer,
  pairFeasibility,
  referenceAllocate,
  runAuction,
  runGreedy,
  SCHEMA_VERSION,
  type SupplierOffer,
  toWire,
  tradeReductionPrice,
} from "../src/index.ts";
import { account, auctionParams, id, offerMakers, T0 } from "./auction-fixtures.ts";

const MEDIATORS = [account(9_000), account(9_001), account(9_002)];

const offers = offerMakers([MEDIATORS[0]!]);
const supplier = (o: Partial<SupplierOffer> = {}, commitments: OpenSupplierOffer["commitments"] = []) =>
  offers.supplier(o, { commitments });
const customer = (o: Partial<CustomerOffer> = {}, openWindows?: OpenCustomerOffer["openWindows"]) =>
  offers.customer(o, openWindows ? { openWindows } : {});
const params = auctionParams;

describe("runAuction", () => {
  describe("replicas", () => {
    it("gives a Customer r distinct Suppliers, cheapest first", () => {
      const s = [150n, 110n, 120n, 130n].map((p) => supplier({ minPricePerMi: p }));
      const c = customer({ replicas: 3, minReplicas: 2 });
      const input = { customers: [c], suppliers: s, params: params() };

      const result = runAuction(input);

      expect(result.allocations).toHaveLength(1);
      const a = result.allocations[0]!.allocation;
      expect(a.supplierOffers).toEqual([s[1]!.id, s[2]!.id, s[3]!.id]);
      expect(new Set(a.suppliers).size).toBe(3);
      expect(a.pricePerMi).toBe(165n); // halfway between the dearest ask 130 and the bid 200
      expect(checkRound(input, result)).toEqual([]);
    });

    it("settles for r_min replicas when no more Suppliers are available", () => {
      const s = [supplier(), supplier()];
      const c = customer({ replicas: 3, minReplicas: 2 });

      const result = runAuction({ customers: [c], suppliers: s, params: params() });

      expect(result.allocations[0]!.allocation.suppliers).toHaveLength(2);
    });

    it("does not allocate below r_min, and keeps the offer open", () => {
      const c = customer({ replicas: 3, minReplicas: 3 });

      const result = runAuction({ customers: [c], suppliers: [supplier(), supplier()], params: params() });

      expect(result.allocations).toEqual([]);
      expect(result.customers[0]!.closed).toBe(false);
      expect(result.customers[0]!.stillOpen).toEqual([{ start: T0, end: T0 + 3_600 }]);
    });

    it("uses one Mediator trusted by the Customer and every chosen Supplier", () => {
      const s = [
        supplier({ mediators: [MEDIATORS[1]!] }),
        supplier({ mediators: [MEDIATORS[0]!] }),
        supplier({ mediators: [MEDIATORS[1]!] }),
      ];
      const c = customer({ replicas: 2, minReplicas: 2, mediators: [MEDIATORS[0]!, MEDIATORS[1]!] });

      const result = runAuction({ customers: [c], suppliers: s, params: params() });

      const a = result.allocations[0]!.allocation;
      expect(a.mediator).toBe(MEDIATORS[1]);
      expect(a.supplierOffers).toEqual([s[0]!.id, s[2]!.id]);
    });
  });

  describe("packing", () => {
    it("puts several Customers on one Supplier while CPU and RAM fit", () => {
      const s = supplier({ capacityMips: 3_000, ramMb: 8_192 });
      const cs = [1, 2, 3, 4].map(() => customer()); // 1 000 MIPS each
      const input = { customers: cs, suppliers: [s], params: params() };

      const result = runAuction(input);

      expect(result.allocations).toHaveLength(3);
      expect(checkRound(input, result)).toEqual([]);
    });

    it("respects commitments from earlier rounds", () => {
      const s = supplier({ capacityMips: 1_500 }, [{ start: T0, end: T0 + 1_800, mips: 1_000, ramMb: 0 }]);
      const c = customer();

      const result = runAuction({ customers: [c], suppliers: [s], params: params() });

      expect(result.allocations.map((p) => [p.allocation.start, p.allocation.end])).toEqual([
        [T0 + 1_800, T0 + 3_600],
      ]);
      expect(result.customers[0]!.stillOpen).toEqual([{ start: T0, end: T0 + 1_800 }]);
    });
  });

  describe("chunking", () => {
    it("serves a window longer than any Supplier's with consecutive allocations", () => {
      const s = [supplier({ start: T0, end: T0 + 3_600 }), supplier({ start: T0 + 3_000, end: T0 + 7_200 })];
      const c = customer({ end: T0 + 7_200 });
      const input = { customers: [c], suppliers: s, params: params() };

      const result = runAuction(input);

      expect(result.allocations.map((p) => [p.allocation.start, p.allocation.end])).toEqual([
        [T0, T0 + 3_600],
        [T0 + 3_600, T0 + 7_200],
      ]);
      expect(result.customers[0]!.closed).toBe(true);
      expect(checkRound(input, result)).toEqual([]);
    });

    it("never leaves a last chunk shorter than δ_min", () => {
      const s = [supplier({ end: T0 + 3_300 }), supplier({ start: T0 + 1_000, end: T0 + 7_200 })];
      const c = customer({ end: T0 + 3_600 });

      const result = runAuction({ customers: [c], suppliers: s, params: params() });

      for (const { allocation } of result.allocations)
        expect(allocation.end - allocation.start).toBeGreaterThanOrEqual(600);
      expect(result.customers[0]!.closed).toBe(true);
    });

    it("sets n = ⌈λΔ/ρ⌉ test inputs", () => {
      const result = runAuction({ customers: [customer()], suppliers: [supplier()], params: params() });

      expect(result.allocations[0]!.allocation.testCount).toBe(Math.ceil((10 * 3_600) / 1_000));
    });
  });

  describe("time sweep", () => {
    it("keeps one allocation going while the same Suppliers win every re-match", () => {
      const s = supplier({ end: T0 + 4 * 3_600 });
      // Other offers add events (re-match points) every hour; none is cheaper.
      const others = [1, 2, 3].map((h) => supplier({ start: T0 + h * 3_600, minPricePerMi: 150n }));
      const c = customer({ end: T0 + 4 * 3_600 });
      const input = { customers: [c], suppliers: [s, ...others], params: params() };

      const result = runAuction(input);

      expect(result.allocations.map((p) => [p.allocation.start, p.allocation.end])).toEqual([
        [T0, T0 + 4 * 3_600],
      ]);
      expect(result.allocations[0]!.supplierOfferIds).toEqual([s.id]);
      expect(checkRound(input, result)).toEqual([]);
    });

    it("gives the cheap Supplier to a higher bid that arrives later, at the next re-match", () => {
      const s = supplier({ capacityMips: 1_000, end: T0 + 3 * 3_600 });
      const low = customer({ maxPricePerMi: 150n, end: T0 + 3 * 3_600 });
      const high = customer({ maxPricePerMi: 300n, start: T0 + 3_600, end: T0 + 3 * 3_600 });
      const input = { customers: [low, high], suppliers: [s], params: params({ switchSeconds: 3_600 }) };

      const result = runAuction(input);

      expect(
        result.allocations.map((p) => [p.customerOfferId, p.allocation.start - T0, p.allocation.end - T0]),
      ).toEqual([
        [low.id, 0, 3_600],
        [high.id, 3_600, 3 * 3_600],
      ]);
      expect(checkRound(input, result)).toEqual([]);
    });

    it("does not carry an allocation across two open windows that touch", () => {
      const s = supplier();
      const c = customer({ end: T0 + 7_200 }, [
        { start: T0, end: T0 + 3_600 },
        { start: T0 + 3_600, end: T0 + 7_200 },
      ]);
      const input = { customers: [c], suppliers: [s], params: params() };

      const result = runAuction(input);

      expect(result.allocations.map((p) => [p.allocation.start - T0, p.allocation.end - T0])).toEqual([
        [0, 3_600],
        [3_600, 7_200],
      ]);
      expect(checkRound(input, result)).toEqual([]);
    });

    it("serves a waiting Customer once a Supplier it can use frees up", () => {
      const s = supplier({ capacityMips: 1_000 });
      const first = customer({ maxPricePerMi: 300n, end: T0 + 1_800 });
      const waiting = customer({ maxPricePerMi: 150n, end: T0 + 7_200 });
      const input = { customers: [first, waiting], suppliers: [s], params: params() };

      const result = runAuction(input);

      expect(
        result.allocations.map((p) => [p.customerOfferId, p.allocation.start - T0, p.allocation.end - T0]),
      ).toEqual([
        [first.id, 0, 1_800],
        [waiting.id, 1_800, 7_200],
      ]);
      const out = result.customers.find((c) => c.customerOfferId === waiting.id)!;
      expect(out.stillOpen).toEqual([{ start: T0, end: T0 + 1_800 }]);
    });
  });

  describe("expiry", () => {
    it("voids a Customer offer past t_e that was never allocated", () => {
      const c = customer({ end: T0 + 600 });

      const result = runAuction({
        customers: [c],
        suppliers: [supplier()],
        params: params({ nowSeconds: T0 + 100 }),
      });

      expect(result.allocations).toEqual([]);
      expect(result.voids).toEqual([expect.objectContaining({ offer: c.id, reason: "expired" })]);
    });

    it("voids a Supplier offer that ended unused", () => {
      const s = supplier({ end: T0 });

      const result = runAuction({ customers: [], suppliers: [s], params: params({ nowSeconds: T0 }) });

      expect(result.voids.map((v) => v.offer)).toEqual([s.id]);
    });
  });

  describe("welfare", () => {
    it("never matches a Supplier that asks more than the bid", () => {
      const result = runAuction({
        customers: [customer({ maxPricePerMi: 99n })],
        suppliers: [supplier()],
        params: params(),
      });

      expect(result.allocations).toEqual([]);
    });

    it("gives scarce cheap capacity to the highest bid", () => {
      const low = customer({ maxPricePerMi: 150n });
      const high = customer({ maxPricePerMi: 300n });
      const s = supplier({ capacityMips: 1_000 });

      const result = runAuction({ customers: [low, high], suppliers: [s], params: params() });

      expect(result.allocations.map((p) => p.customerOfferId)).toEqual([high.id]);
      expect(result.welfare).toBe((300n - 100n) * 100n * 10n * 3_600n);
    });
  });
});

describe("price rules", () => {
  it("k-double prices lie between the dearest ask and the lowest bid", () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: 10n ** 30n }),
        fc.array(fc.bigInt({ min: 0n, max: 10n ** 30n }), { minLength: 1, maxLength: 5 }),
        fc.integer({ min: 0, max: 100 }),
        (bid, asks, k) => {
          fc.pre(asks.every((a) => a <= bid));
          const p = kDoublePrice(BigInt(k), 100n).price([bid], asks);
          expect(p <= bid && asks.every((a) => a <= p)).toBe(true);
        },
      ),
    );
  });

  it("McAfee trade reduction: the price is within the reduced trades' bids and asks", () => {
    // k = 2; p₀ = (2 + 9) / 2 = 5 lies in [a₂, b₂] = [3, 8]: both trade at 5.
    expect(tradeReductionPrice([10n, 8n, 2n], [1n, 3n, 9n])).toBe(5n);
    // k = 2; p₀ = (1 + 12) / 2 = 6 > b₂ = 4: the second pair is dropped, the first trades at (4 + 3) / 2.
    expect(tradeReductionPrice([10n, 4n, 1n], [1n, 3n, 12n])).toBe(3n);
    expect(tradeReductionPrice([1n], [2n])).toBeUndefined();
  });
});

// ── properties over random markets ────────────────────────────────────────────────────────────

const GRID = 300;
const supplierArb = fc.record({
  cap: fc.constantFrom(1_000, 2_000, 4_000, 8_000),
  ram: fc.constantFrom(1_024, 2_048, 4_096),
  start: fc.integer({ min: 0, max: 20 }),
  len: fc.integer({ min: 2, max: 16 }),
  ask: fc.integer({ min: 50, max: 150 }),
  meds: fc.subarray([0, 1, 2], { minLength: 1 }),
  committed: fc.option(
    fc.record({ from: fc.integer({ min: 0, max: 30 }), len: fc.integer({ min: 1, max: 10 }) }),
  ),
  account: fc.integer({ min: 0, max: 40 }),
});
const customerArb = fc.record({
  mi: fc.integer({ min: 10, max: 200 }),
  rate: fc.integer({ min: 1, max: 20 }),
  ram: fc.constantFrom(256, 512, 1_024, 2_048),
  start: fc.integer({ min: 0, max: 20 }),
  len: fc.integer({ min: 2, max: 24 }),
  bid: fc.integer({ min: 40, max: 170 }),
  r: fc.integer({ min: 1, max: 3 }),
  rMinOffset: fc.integer({ min: 0, max: 2 }),
  meds: fc.subarray([0, 1, 2], { minLength: 1 }),
  account: fc.integer({ min: 0, max: 40 }),
});
const marketArb = fc.record({
  suppliers: fc.array(supplierArb, { maxLength: 25 }),
  customers: fc.array(customerArb, { maxLength: 25 }),
  now: fc.integer({ min: -5, max: 10 }),
});

type Market = typeof marketArb extends fc.Arbitrary<infer T> ? T : never;

function toInput(m: Market) {
  const suppliers: OpenSupplierOffer[] = m.suppliers.map((s, i) => {
    const start = T0 + s.start * GRID;
    return {
      id: id(1_000 + i),
      offer: {
        kind: "supplier",
        schemaVersion: SCHEMA_VERSION,
        account: account(s.account),
        nonce: BigInt(i),
        capacityMips: s.cap,
        ramMb: s.ram,
        start,
        end: start + s.len * GRID,
        minPricePerMi: BigInt(s.ask),
        mediators: s.meds.map((k) => MEDIATORS[k]!),
      },
      commitments: s.committed
        ? [
            {
              start: T0 + s.committed.from * GRID,
              end: T0 + (s.committed.from + s.committed.len) * GRID,
              mips: Math.floor(s.cap / 2),
              ramMb: Math.floor(s.ram / 2),
            },
          ]
        : [],
    };
  });
  const customers: OpenCustomerOffer[] = m.customers.map((c, i) => {
    const start = T0 + c.start * GRID;
    return {
      id: id(2_000 + i),
      offer: {
        kind: "customer",
        schemaVersion: SCHEMA_VERSION,
        account: account(c.account),
        nonce: BigInt(i),
        serviceName: "svc",
        serviceHash: `0x${"cd".repeat(32)}` as Bytes32,
        miPerInput: c.mi,
        ramMb: c.ram,
        inputsPerSecond: c.rate,
        start,
        end: start + c.len * GRID,
        maxPricePerMi: BigInt(c.bid),
        replicas: c.r,
        minReplicas: Math.max(1, c.r - c.rMinOffset),
        minServiceSeconds: 2 * GRID,
        mediators: c.meds.map((k) => MEDIATORS[k]!),
      },
    };
  });
  return { customers, suppliers, params: params({ nowSeconds: T0 + m.now * GRID }) };
}

describe("runAuction properties", () => {
  it("every allocation is feasible, within capacity, with distinct replicas and bounded prices", () => {
    fc.assert(
      fc.property(marketArb, (m) => {
        const input = toInput(m);
        expect(checkRound(input, runAuction(input))).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });

  it("the pieces of each Customer offer tile its window from now + δ on", () => {
    fc.assert(
      fc.property(marketArb, (m) => {
        const input = toInput(m);
        const result = runAuction(input);
        const earliest = input.params.nowSeconds + DEFAULT_DELAYS.allocSeconds + DEFAULT_DELAYS.setupSeconds;
        for (const out of result.customers) {
          if (out.pieces.length === 0) continue;
          const o = input.customers.find((c) => c.id === out.customerOfferId)!.offer;
          expect(out.pieces[0]!.start).toBe(Math.max(o.start, earliest));
          expect(out.pieces[out.pieces.length - 1]!.end).toBe(o.end);
          for (let i = 1; i < out.pieces.length; i++)
            expect(out.pieces[i]!.start).toBe(out.pieces[i - 1]!.end);
        }
      }),
      { numRuns: 200 },
    );
  });

  it("stays feasible when the searches are cut short (maxScan, switchSeconds)", () => {
    fc.assert(
      fc.property(
        marketArb,
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 7_200 }),
        (m, maxScan, switchSeconds) => {
          const base = toInput(m);
          const input = { ...base, params: { ...base.params, maxScan, switchSeconds } };
          expect(checkRound(input, runAuction(input))).toEqual([]);
        },
      ),
      { numRuns: 150 },
    );
  });

  it("refinement passes only ever keep a round with more welfare", () => {
    fc.assert(
      fc.property(marketArb, (m) => {
        const base = toInput(m);
        const plain = runAuction({ ...base, params: { ...base.params, refinements: 0 } });
        const refined = runAuction({ ...base, params: { ...base.params, refinements: 3 } });
        expect(refined.welfare >= plain.welfare).toBe(true);
        expect(checkRound(base, refined)).toEqual([]);
      }),
      { numRuns: 100 },
    );
  });

  it("never splits an allocation that could go on: consecutive chunks of a Customer differ in Suppliers or Mediator", () => {
    fc.assert(
      fc.property(marketArb, fc.integer({ min: 0, max: 7_200 }), (m, switchSeconds) => {
        const base = toInput(m);
        const input = { ...base, params: { ...base.params, switchSeconds } };
        const result = runAuction(input);
        for (const out of result.customers) {
          for (let i = 1; i < out.pieces.length; i++) {
            const a = out.pieces[i - 1]!.allocation;
            const b = out.pieces[i]!.allocation;
            if (a === undefined || b === undefined) continue;
            const x = result.allocations[a]!.allocation;
            const y = result.allocations[b]!.allocation;
            if (x.end !== y.start) continue;
            expect(x.mediator === y.mediator && toWire(x.supplierOffers) === toWire(y.supplierOffers)).toBe(
              false,
            );
          }
        }
      }),
      { numRuns: 150 },
    );
  });

  it("never makes an allocation longer than maxChunkSeconds, even where chunks go on", () => {
    fc.assert(
      fc.property(marketArb, fc.integer({ min: 2 * GRID, max: 12 * GRID }), (m, maxChunkSeconds) => {
        const base = toInput(m);
        const input = { ...base, params: { ...base.params, maxChunkSeconds, switchSeconds: 0 } };
        const result = runAuction(input);
        for (const { allocation } of result.allocations)
          expect(allocation.end - allocation.start).toBeLessThanOrEqual(maxChunkSeconds);
        expect(checkRound(input, result)).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it("every Customer order gives a feasible round", () => {
    fc.assert(
      fc.property(marketArb, fc.constantFrom(...Object.values(CustomerOrder)), (m, order) => {
        const input = toInput(m);
        expect(checkRound(input, runGreedy(input, [order], 0))).toEqual([]);
      }),
      { numRuns: 150 },
    );
  });

  it("gives the same round when times are not whole seconds (the events' comparison sort)", () => {
    fc.assert(
      fc.property(marketArb, (m) => {
        const input = toInput(m);
        // Shift every time by half a second: the order of events is unchanged.
        const half = (o: { start: number; end: number }) => ({ start: o.start + 0.5, end: o.end + 0.5 });
        const shifted = {
          ...input,
          customers: input.customers.map((c) => ({ ...c, offer: { ...c.offer, ...half(c.offer) } })),
          suppliers: input.suppliers.map((s) => ({
            ...s,
            offer: { ...s.offer, ...half(s.offer) },
            commitments: s.commitments?.map((x) => ({ ...x, ...half(x) })),
          })),
          params: { ...input.params, nowSeconds: input.params.nowSeconds + 0.5 },
        };
        const a = runAuction(input);
        const b = runAuction(shifted);
        expect(
          b.allocations.map((p) => [p.allocation.start - 0.5, p.allocation.end - 0.5, p.supplierOfferIds]),
        ).toEqual(a.allocations.map((p) => [p.allocation.start, p.allocation.end, p.supplierOfferIds]));
      }),
      { numRuns: 100 },
    );
  });

  it("is deterministic: the order of the offers does not matter", () => {
    fc.assert(
      fc.property(marketArb, fc.integer(), (m, seed) => {
        const input = toInput(m);
        const shuffle = <T>(xs: readonly T[]) => {
          const out = [...xs];
          let x = seed | 1;
          for (let i = out.length - 1; i > 0; i--) {
            x = (x * 1_103_515_245 + 12_345) & 0x7fffffff;
            const j = x % (i + 1);
            [out[i], out[j]] = [out[j]!, out[i]!];
          }
          return out;
        };
        const a = runAuction(input);
        const b = runAuction({
          ...input,
          customers: shuffle(input.customers),
          suppliers: shuffle(input.suppliers),
        });
        expect(toWire(b.allocations)).toBe(toWire(a.allocations));
      }),
      { numRuns: 100 },
    );
  });
});

describe("against the reference method (max-cardinality matching + midpoint price)", () => {
  function referenceWelfare(input: ReturnType<typeof toInput>) {
    const ref = referenceAllocate(input.customers, input.suppliers);
    let welfare = 0n;
    let infeasible = 0;
    for (const p of ref.pairs) {
      const c = input.customers.find((x) => x.id === p.customerOfferId)!.offer;
      const s = input.suppliers.find((x) => x.id === p.supplierOfferId)!.offer;
      const f = pairFeasibility(s, c, input.params.nowSeconds);
      if (!f.feasible) infeasible++;
      else
        welfare +=
          (c.maxPricePerMi - s.minPricePerMi) *
          BigInt(c.miPerInput * c.inputsPerSecond) *
          BigInt(f.window.end - f.window.start);
    }
    return { welfare, infeasible };
  }

  it("never prices an infeasible pair, where the reference does", () => {
    let referenceInfeasible = 0;
    fc.assert(
      fc.property(marketArb, (m) => {
        const input = toInput({ ...m, now: -1 });
        expect(checkRound(input, runAuction(input))).toEqual([]);
        referenceInfeasible += referenceWelfare(input).infeasible;
      }),
      { numRuns: 200, seed: 42 },
    );
    expect(referenceInfeasible).toBeGreaterThan(0);
  });

  it("reaches more welfare in total than the reference's feasible pairs", () => {
    let ours = 0n;
    let theirs = 0n;
    fc.assert(
      fc.property(marketArb, (m) => {
        const input = toInput({ ...m, now: -1 });
        ours += runAuction(input).welfare;
        theirs += referenceWelfare(input).welfare;
      }),
      { numRuns: 200, seed: 7 },
    );
    expect(ours).toBeGreaterThan(theirs);
  });
});
