// eq. 4 and eq. 6 under property tests, the expected-utility model against the simulation, and
// the figures' SVG.
import { customerProcessesTests, supplierBestP, supplierStationaryP } from "@surplus/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  eq4Arbitrary,
  eq4Processes,
  eq6Arbitrary,
  expectedUtility,
  searchCostReadings,
} from "../src/analysis.ts";
import { experimentParameters } from "../src/parameters.ts";
import { fig5Svg, fig6Svg } from "../src/report.ts";
import { FIG5, FIG6, supplierExperiment } from "../src/simulate.ts";
import { runStrategies } from "../src/strategies.ts";
import { lineChart, niceTicks } from "../src/svg.ts";

describe("eq. 4", () => {
  it("n < ρ ⇒ the Customer processes its n test inputs (n·π_cg < π_cd)", () => {
    fc.assert(fc.property(eq4Arbitrary, (c) => !(c.n < c.rho) || eq4Processes(c)));
  });

  it("the converse does not hold: n ≥ ρ with n·e_c < ρ still processes", () => {
    expect(customerProcessesTests({ n: 10, piCg: 0.5, piCd: 8 })).toBe(true);
  });
});

describe("eq. 6", () => {
  it("with ρ = λΔ/n the stationary point is 1/e_s ≥ 1 and the best P(s) is 1", () => {
    fc.assert(
      fc.property(eq6Arbitrary, (g) => {
        expect(supplierStationaryP(g)).toBeCloseTo(g.piS / g.piSe, 6);
        expect(supplierBestP(g)).toBe(1);
      }),
    );
  });

  it("under the contract's rules the Supplier's expected utility is highest at P(s) = 1", () => {
    for (const params of [experimentParameters(), experimentParameters({ gas: false })]) {
      const best = expectedUtility(params, 1).supplier;
      for (let k = 0; k < 100; k++) expect(expectedUtility(params, k / 100).supplier).toBeLessThan(best);
    }
  });
});

describe("expectedUtility", () => {
  it("matches the simulated mean of honest and never-processing Suppliers", () => {
    const p = experimentParameters({ gas: false });
    const run = supplierExperiment(p, 9, {
      ...FIG5,
      suppliers: 12,
      customers: 12,
      rounds: 5,
      frontRunners: 0,
    });
    for (const pS of [0, 1]) {
      const finals = run.cumulative
        .filter((_, i) => run.supplierP[i] === pS)
        .map((c) => c[c.length - 1]! / c.length);
      for (const f of finals) expect(f).toBeCloseTo(expectedUtility(p, pS).supplier, 6);
    }
  });
});

describe("searchCostReadings", () => {
  it("counts the cost subsets that give the paper's break-even and gain", () => {
    // λΔ·b = 1, λΔ·π_s = 0.5: a cost of 0.32 puts break-even at 82 %; δ = 0.0432 then gives +24 %.
    const r = searchCostReadings({ a: 0.32, b: 5 }, { lambdaDelta: 1, piS: 0.5, b: 1, delta: 0.0432 / 1.24 });
    expect(r.subsets).toBe(4);
    expect(r.breakEven).toBe(1);
    expect(r.both).toEqual([["a"]]);
  });
});

describe("figures", () => {
  it("niceTicks gives round steps covering the range", () => {
    expect(niceTicks(0, 100)).toEqual([0, 20, 40, 60, 80, 100]);
    expect(niceTicks(-412, 0).at(-1)).toBe(0);
  });

  it("charts carry the title, axis labels, legend and one path per series", () => {
    const svg = lineChart({
      title: "T",
      xLabel: "x (units)",
      yLabel: "y (US dollars)",
      series: [
        {
          name: "a",
          color: "#000",
          points: [
            [0, 0],
            [1, 1],
          ],
        },
        {
          name: "b",
          color: "#111",
          points: [
            [0, 1],
            [1, 0],
          ],
        },
      ],
    });
    expect(svg).toMatch(/^<svg /);
    for (const s of ["x (units)", "y (US dollars)", ">a<", ">b<"]) expect(svg).toContain(s);
    expect(svg.match(/<path /g)).toHaveLength(2);
  });

  it("Fig. 5 and Fig. 6 have a line per group (the front-runners' included) and per Customer", () => {
    const r = runStrategies(3, {
      fig5: { ...FIG5, suppliers: 8, customers: 8, rounds: 3, frontRunners: 2 },
      fig6: { ...FIG6, levels: [0.8, 1], jobs: 3 },
      propertyRuns: 20,
    });
    const v = r.variants[0]!;
    expect(fig5Svg(v).match(/<path /g)).toHaveLength(7);
    expect(fig5Svg(v)).toContain("front-running lazy");
    expect(fig6Svg(v, 3).match(/<path /g)).toHaveLength(2);
  });
});
