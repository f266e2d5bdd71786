import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  failureProbability,
  paperEquation3,
  replicasFor,
  replicasForRate,
  successProbability,
} from "../src/index.ts";

describe("replicas", () => {
  it("gives the fewest replicas that reach the target success probability", () => {
    fc.assert(
      fc.property(
        fc.double({ min: 0.001, max: 0.95, noNaN: true }),
        fc.double({ min: 0.5, max: 0.999999, noNaN: true }),
        (pf, target) => {
          const r = replicasFor(pf, target);
          expect(successProbability(r, pf)).toBeGreaterThanOrEqual(target);
          if (r > 1) expect(successProbability(r - 1, pf)).toBeLessThan(target);
        },
      ),
    );
  });

  it("needs more replicas for a higher target, unlike eq. 3 as printed", () => {
    expect(replicasFor(0.1, 0.99)).toBe(2);
    expect(replicasFor(0.1, 0.9999)).toBe(4);
    // eq. 3 as printed asks for fewer replicas when the target rises: not a probability calculation.
    expect(paperEquation3(0.9999, 0.1)).toBeLessThan(paperEquation3(0.99, 0.1));
  });

  it("derives p_f = 1 − e^(−q·t) from a failure rate", () => {
    expect(failureProbability(0, 600)).toBe(0);
    expect(failureProbability(1 / 3600, 3600)).toBeCloseTo(1 - Math.exp(-1), 12);
    expect(replicasForRate(1 / 36_000, 600, 0.999)).toBe(2);
  });

  it("rejects impossible inputs", () => {
    expect(() => replicasFor(1, 0.9)).toThrow(/pFailure/);
    expect(() => replicasFor(0.1, 1)).toThrow(/targetSuccess/);
  });
});
