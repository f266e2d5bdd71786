// Invariants of the simulated experiments (not the paper's numbers): money conserved in every
// allocation, the Allocator's matching, the caught/not-caught rule, reproducibility by seed.
import { offerId } from "@surplus/core";
import { describe, expect, it } from "vitest";
import { DOMAIN, matchRound, roundOffers } from "../src/market.ts";
import { experimentParameters } from "../src/parameters.ts";
import { binomial, rngOf } from "../src/random.ts";
import { netFlow } from "../src/settlement.ts";
import { customerExperiment, FIG5, FIG6, supplierExperiment } from "../src/simulate.ts";

const p = experimentParameters();
const SMALL = { ...FIG5, suppliers: 14, customers: 14, rounds: 6, frontRunners: 2 };
const SMALL6 = { ...FIG6, levels: [0.6, 0.9, 1], jobs: 12 };

describe("market", () => {
  it("offer ids are core's EIP-712 offer ids", () => {
    const r = roundOffers(p, 7, 3, 2, 3);
    for (const o of [...r.customers, ...r.suppliers]) expect(o.id).toBe(offerId(DOMAIN, o.offer));
  });

  it("the Allocator serves every Customer with one distinct Supplier at Table 6's π_s, n = ⌈λΔ/ρ⌉", () => {
    const matched = matchRound(p, roundOffers(p, 1, 0, 5, 5), 0);
    expect(matched).toHaveLength(5);
    expect(new Set(matched.flatMap((m) => m.suppliers)).size).toBe(5);
    for (const { allocation: a } of matched) {
      expect(BigInt(a.miPerInput) * a.pricePerMi).toBe(p.service.pricePerMi * BigInt(p.service.miPerInput));
      expect(a.end - a.start).toBe(p.service.durationSeconds);
      expect(a.testCount).toBe(p.table6.n);
    }
  });
});

describe("supplierExperiment", () => {
  const run = supplierExperiment(p, 42, SMALL);

  it("conserves money in every simulated allocation", () => {
    expect(run.allocations.length).toBe(SMALL.rounds * SMALL.customers);
    for (const a of run.allocations) expect(netFlow(a.settlement)).toBe(0n);
  });

  it("catches a Supplier iff it skipped a test input: never at P(s) = 1, always at P(s) = 0", () => {
    for (const a of run.allocations)
      a.suppliers.forEach((s, i) => {
        if (run.supplierP[s] === 1) expect(a.caught[i]).toBe(false);
        if (run.supplierP[s] === 0) expect(a.caught[i]).toBe(true);
        if (run.supplierP[s] === 1) expect(a.processed[i]).toBe(a.inputs);
      });
  });

  it("a front-running lazy Supplier is disputed by an honest Customer and never paid P, though its seal is right", () => {
    let seen = 0;
    for (const a of run.allocations)
      a.suppliers.forEach((s, i) => {
        if (!run.frontRunner[s]) return;
        seen++;
        expect(run.supplierP[s]).toBe(0);
        expect(a.caught[i]).toBe(true);
        expect(a.settlement.verdicts[i]).toBe("wrong");
        expect(a.settlement.suppliers[i]).toBeLessThan(0n);
      });
    expect(seen).toBeGreaterThan(0);
  });

  it("gives each Supplier one allocation per round", () => {
    for (const c of run.cumulative) expect(c).toHaveLength(SMALL.rounds);
  });

  it("is reproducible with a seed and changes with it", () => {
    expect(supplierExperiment(p, 42, SMALL).cumulative).toEqual(run.cumulative);
    expect(supplierExperiment(p, 43, SMALL).cumulative).not.toEqual(run.cumulative);
  });
});

describe("customerExperiment", () => {
  it("is reproducible with a seed and changes with it", () => {
    const a = customerExperiment(p, 5, SMALL6);
    expect(customerExperiment(p, 5, SMALL6)).toEqual(a);
    expect(customerExperiment(p, 6, SMALL6)).not.toEqual(a);
    for (const l of a) expect(l.jobs).toEqual({ submits: SMALL6.jobs, withholds: SMALL6.jobs });
  });
});

describe("binomial", () => {
  it("stays in [0, trials] and is exact at p ∈ {0, 1}", () => {
    const rng = rngOf(1);
    expect(binomial(100, 0, rng)).toBe(0);
    expect(binomial(100, 1, rng)).toBe(100);
    for (const q of [0.001, 0.3, 0.97]) {
      const k = binomial(12_000, q, rng);
      expect(k).toBeGreaterThanOrEqual(0);
      expect(k).toBeLessThanOrEqual(12_000);
    }
  });
});
