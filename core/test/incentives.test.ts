import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  customerProcessesTests,
  deriveTable6,
  type GameParameters,
  gameParametersFrom,
  PAPER_TABLE6_INPUTS,
  PAPER_TABLE6_PRINTED,
  penaltyRateFor,
  pricePerInput,
  supplierBestP,
  supplierStationaryP,
  supplierUtility,
  table3,
  testCountFor,
} from "../src/index.ts";

const t6 = deriveTable6(PAPER_TABLE6_INPUTS);

describe("Table 6, derived from its inputs", () => {
  it("reproduces λΔ, n, ρ and the deposits the paper prints", () => {
    expect(t6.lambdaDelta).toBe(12_000);
    expect(t6.n).toBe(12);
    expect(t6.rho).toBe(1000);
    expect(t6.piCd).toBeCloseTo(0.02, 12);
    expect(t6.piSd).toBeCloseTo(0.02, 12);
  });

  it("reproduces the gas-derived costs π_cc, π_v and π_a to the paper's printed precision", () => {
    expect(t6.piCc).toBeCloseTo(PAPER_TABLE6_PRINTED.piCc, 3);
    expect(t6.piV).toBeCloseTo(PAPER_TABLE6_PRINTED.piV, 3);
    expect(t6.piA).toBeCloseTo(PAPER_TABLE6_PRINTED.piA, 3);
  });

  it("keeps b > π_s > π_se, as the paper requires", () => {
    expect(PAPER_TABLE6_INPUTS.b).toBeGreaterThan(PAPER_TABLE6_INPUTS.piS);
    expect(PAPER_TABLE6_INPUTS.piS).toBeGreaterThan(t6.piSe);
  });
});

const paramsArb: fc.Arbitrary<GameParameters> = fc
  .record({
    lambdaDelta: fc.integer({ min: 100, max: 100_000 }),
    n: fc.integer({ min: 1, max: 50 }),
    piS: fc.double({ min: 1e-6, max: 1, noNaN: true }),
    es: fc.double({ min: 0.01, max: 0.99, noNaN: true }),
  })
  .map(({ lambdaDelta, n, piS, es }) => {
    const rho = penaltyRateFor(lambdaDelta, n);
    return {
      ...gameParametersFrom(t6, { piS, b: piS * 2 }),
      lambdaDelta,
      n,
      piS,
      piSe: es * piS,
      piSd: rho * piS,
      piCd: rho * piS,
    };
  });

describe("eq. 4–6", () => {
  it("eq. 4: the Customer processes its n test inputs whenever n < ρ (e_c < 1)", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 1, max: 5000 }),
        fc.double({ min: 0.01, max: 0.99, noNaN: true }),
        (n, rhoInt, ec) => {
          fc.pre(n < rhoInt);
          const piS = 1e-3;
          expect(customerProcessesTests({ n, piCg: ec * piS, piCd: rhoInt * piS })).toBe(true);
        },
      ),
    );
  });

  it("eq. 6: with ρ = λΔ/n the stationary point is 1/e_s ≥ 1 and processing every input is the best response", () => {
    fc.assert(
      fc.property(paramsArb, fc.double({ min: 0, max: 1, noNaN: true }), (p, pS) => {
        expect(supplierStationaryP(p)).toBeCloseTo(p.piS / p.piSe, 6);
        expect(supplierBestP(p)).toBe(1);
        expect(supplierUtility(1, p)).toBeGreaterThanOrEqual(
          supplierUtility(pS, p) - 1e-9 * Math.abs(supplierUtility(1, p)),
        );
      }),
    );
  });

  it("a too-low penalty rate leaves an interior optimum: cheating pays", () => {
    const p = {
      ...gameParametersFrom(t6, { piS: 1, b: 2 }),
      lambdaDelta: 1000,
      n: 1,
      piS: 1,
      piSe: 0.9,
      piSd: 0,
    };
    expect(supplierBestP(p)).toBeLessThan(1);
  });

  it("Table 3: a Supplier that processes is better off whatever the Customer does (O1 > O2, O3 > O4)", () => {
    fc.assert(
      fc.property(paramsArb, (p) => {
        const o = table3(p);
        expect(o.O1.supplier).toBeGreaterThan(o.O2.supplier);
        expect(o.O3.supplier).toBeGreaterThan(o.O4.supplier);
      }),
    );
  });
});

describe("amounts", () => {
  it("n = ⌈λΔ/ρ⌉ and π_s = I_c·π_x", () => {
    expect(testCountFor(12_000n, 1000n)).toBe(12);
    expect(testCountFor(12_001n, 1000n)).toBe(13);
    expect(pricePerInput(50, 3n)).toBe(150n);
  });
});
