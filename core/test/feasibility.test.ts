import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  allocationWindow,
  DEFAULT_DELAYS,
  Infeasibility,
  isExpired,
  offerExpiry,
  pairFeasibility,
  requiredMips,
} from "../src/index.ts";
import { aCustomerOffer, alice, aSupplierOffer, bob, carol, dave } from "./fixtures.ts";

const now = 0;
const windowArb = fc
  .tuple(fc.integer({ min: 0, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }))
  .map(([start, len]) => ({ start, end: start + len }));

describe("pairFeasibility", () => {
  it("matches a Supplier with room, a price both accept, overlapping windows and a common Mediator", () => {
    const result = pairFeasibility(aSupplierOffer(), aCustomerOffer(), now);
    expect(result).toEqual({
      feasible: true,
      window: { start: 1_000, end: 4_000 },
      mediators: [carol.address],
    });
  });

  it("lists every reason a pair is infeasible", () => {
    const s = aSupplierOffer({
      capacityMips: 999,
      ramMb: 100,
      minPricePerMi: 151n,
      mediators: [dave.address as `0x${string}`],
    });
    const result = pairFeasibility(s, aCustomerOffer(), now);
    expect(result.feasible).toBe(false);
    if (!result.feasible) {
      expect(result.reasons).toEqual([
        Infeasibility.Cpu,
        Infeasibility.Ram,
        Infeasibility.Price,
        Infeasibility.Mediator,
      ]);
    }
  });

  it("needs I_c·λ ≤ I_s exactly (eq. 1)", () => {
    const c = aCustomerOffer();
    expect(pairFeasibility(aSupplierOffer({ capacityMips: requiredMips(c) }), c, now).feasible).toBe(true);
    expect(pairFeasibility(aSupplierOffer({ capacityMips: requiredMips(c) - 1 }), c, now).feasible).toBe(
      false,
    );
  });

  it("refuses an overlap shorter than the minimum service time, and an expired offer", () => {
    const c = aCustomerOffer({ start: 1_000, end: 4_000, minServiceSeconds: 600 });
    expect(pairFeasibility(aSupplierOffer({ start: 3_500, end: 9_000 }), c, now).feasible).toBe(false);
    const late = 4_000 - 600 - DEFAULT_DELAYS.allocSeconds - DEFAULT_DELAYS.setupSeconds + 1;
    expect(isExpired(c, late, DEFAULT_DELAYS)).toBe(true);
    const result = pairFeasibility(aSupplierOffer(), c, late);
    expect(!result.feasible && result.reasons).toContain(Infeasibility.Expired);
  });

  it("refuses the same account on both sides", () => {
    const result = pairFeasibility(
      aSupplierOffer({ account: alice.address as `0x${string}` }),
      aCustomerOffer(),
      now,
    );
    expect(!result.feasible && result.reasons).toContain(Infeasibility.SameAccount);
  });

  it("computes the expiry t_e = c_end − δ_min − δ_setup − δ_alloc", () => {
    expect(offerExpiry({ end: 4_000, minServiceSeconds: 600 }, { allocSeconds: 3, setupSeconds: 7 })).toBe(
      3_390,
    );
  });
});

describe("feasibility properties", () => {
  it("the allocation window is symmetric in the two offers' windows", () => {
    fc.assert(
      fc.property(windowArb, windowArb, fc.integer({ min: 0, max: 20_000 }), (a, b, t) => {
        expect(allocationWindow(a, b, t, DEFAULT_DELAYS)).toEqual(allocationWindow(b, a, t, DEFAULT_DELAYS));
      }),
    );
  });

  it("does not depend on the order of either side's Mediator list", () => {
    const m = [carol.address, dave.address] as `0x${string}`[];
    fc.assert(
      fc.property(fc.boolean(), fc.boolean(), (flipS, flipC) => {
        const s = aSupplierOffer({ mediators: flipS ? [...m].reverse() : m });
        const c = aCustomerOffer({ mediators: flipC ? [...m].reverse() : m });
        expect(pairFeasibility(s, c, now).feasible).toBe(true);
      }),
    );
  });

  it("is monotone: more CPU or RAM, a lower ask or a higher bid never makes a feasible pair infeasible", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 100_000 }),
        fc.integer({ min: 1, max: 4_096 }),
        fc.bigInt({ min: 0n, max: 300n }),
        fc.bigInt({ min: 0n, max: 300n }),
        fc.integer({ min: 0, max: 10_000 }),
        (cpu, ram, ask, bid, extra) => {
          const s = aSupplierOffer({ capacityMips: cpu, ramMb: ram, minPricePerMi: ask });
          const c = aCustomerOffer({ maxPricePerMi: bid });
          if (!pairFeasibility(s, c, now).feasible) return;
          const richer = aSupplierOffer({
            capacityMips: cpu + extra,
            ramMb: ram + extra,
            minPricePerMi: ask > 0n ? ask - 1n : 0n,
          });
          expect(pairFeasibility(richer, aCustomerOffer({ maxPricePerMi: bid + 1n }), now).feasible).toBe(
            true,
          );
        },
      ),
    );
  });

  it("price feasibility is exactly π_xmin ≤ π_xmax", () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 1000n }), fc.bigInt({ min: 0n, max: 1000n }), (ask, bid) => {
        const r = pairFeasibility(
          aSupplierOffer({ minPricePerMi: ask }),
          aCustomerOffer({ maxPricePerMi: bid }),
          now,
        );
        expect(r.feasible).toBe(ask <= bid);
      }),
    );
  });

  it("an infeasible pair's window never starts before now + δ_alloc + δ_setup", () => {
    fc.assert(
      fc.property(windowArb, windowArb, fc.integer({ min: 0, max: 20_000 }), (a, b, t) => {
        const w = allocationWindow(a, b, t, DEFAULT_DELAYS);
        if (w)
          expect(w.start).toBeGreaterThanOrEqual(
            t + DEFAULT_DELAYS.allocSeconds + DEFAULT_DELAYS.setupSeconds,
          );
      }),
    );
  });

  it("keeps bob as the Supplier account used in fixtures", () => {
    expect(aSupplierOffer().account).toBe(bob.address);
  });
});
