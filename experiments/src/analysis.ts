// Expected utilities under the contract's rules (from the settlement model, not from Table 3) and
// the property checks of eq. 4 and eq. 6, for the report's claim table and its explanations.
import {
  type Allocation,
  customerProcessesTests,
  type GameParameters,
  supplierBestP,
  supplierStationaryP,
  ZERO_HASH,
} from "@surplus/core";
import fc from "fast-check";
import type { ExperimentParameters } from "./parameters.ts";
import { unitsToUsd } from "./parameters.ts";
import { type Lifecycle, settle } from "./settlement.ts";

const G_TRUE = `0x${"11".repeat(32)}` as const;
const G_WRONG = `0x${"22".repeat(32)}` as const;

/** A one-replica allocation of the experiments' service (terms as the Allocator makes them). */
export function typicalAllocation(p: ExperimentParameters): Allocation {
  const { inputsPerSecond, durationSeconds, miPerInput, pricePerMi } = p.service;
  const inputs = BigInt(inputsPerSecond * durationSeconds);
  const n = Number((inputs + p.market.penaltyRate - 1n) / p.market.penaltyRate);
  return {
    schemaVersion: 1,
    allocator: "0x00000000000000000000000000000000000000a1",
    customer: "0x00000000000000000000000000000000000000c0",
    suppliers: ["0x0000000000000000000000000000000000000050"],
    mediator: "0x000000000000000000000000000000000000003e",
    customerOffer: ZERO_HASH,
    supplierOffers: [ZERO_HASH],
    serviceHash: ZERO_HASH,
    start: 1_000,
    end: 1_000 + durationSeconds,
    pricePerMi,
    miPerInput,
    inputsPerSecond,
    testCount: n,
    minReplicas: 1,
    nonce: 0n,
  };
}

/** On-chain balance changes (USD) of one allocation for a caught or uncaught Supplier and an honest or dishonest Customer. */
function onChain(p: ExperimentParameters, a: Allocation, caught: boolean, customerHonest: boolean) {
  const results = [caught ? G_WRONG : G_TRUE] as const;
  const life: Lifecycle = {
    signed: { customer: true, mediator: true, suppliers: [true] },
    gammaC: customerHonest ? G_TRUE : `0x${"c0".repeat(32)}`,
    ending: {
      kind: "settled",
      disputed: 0,
      results,
      mediation: { kind: "mediated", gammaM: G_TRUE, lazy: caught ? 1 : 0, results },
    },
  };
  const s = settle(a, p.market, life);
  return { customer: unitsToUsd(s.customer), supplier: unitsToUsd(s.suppliers[0]!) };
}

/**
 * Expected utility per allocation (USD) under the contract's rules, for a Supplier that processes
 * each input with probability P(s) and a Customer that submits its n test outputs or not.
 */
export function expectedUtility(p: ExperimentParameters, pS: number, customerHonest = true) {
  const a = typicalAllocation(p);
  const n = a.testCount;
  const inputs = a.inputsPerSecond * (a.end - a.start);
  const safe = pS ** n;
  const ok = onChain(p, a, false, customerHonest);
  const bad = onChain(p, a, true, customerHonest);
  const u = p.usd;
  return {
    supplier: safe * ok.supplier + (1 - safe) * bad.supplier - u.piSe * inputs * pS - u.piV,
    customer:
      safe * ok.customer +
      (1 - safe) * bad.customer +
      u.b * inputs * pS -
      (customerHonest ? n * u.piCg : 0) -
      u.piCc,
  };
}

/** P(s) at which the submitting Customer's expected utility is zero (it is linear in P(s)); may lie outside [0, 1]. */
export function customerBreakEven(p: ExperimentParameters): number {
  const u0 = expectedUtility(p, 0).customer;
  const u1 = expectedUtility(p, 1).customer;
  return -u0 / (u1 - u0);
}

/** The Customer's gain from submitting at P(s) = 1: (U_submit − U_withhold) / |U_withhold|. */
export function customerGainAtOne(p: ExperimentParameters): number {
  const sub = expectedUtility(p, 1, true).customer;
  const not = expectedUtility(p, 1, false).customer;
  return (sub - not) / Math.abs(not);
}

/**
 * What (λΔ·b, fixed cost per job) a Customer would need for the paper's break-even P(s) and gain
 * at P(s) = 1, given that withholding costs the deposit minus the n test outputs (δ): solving
 * U(p) = αp − β with U(p*) = 0 and U(1) = (1 + g)(U(1) − δ).
 */
export function impliedCustomerEconomics(breakEven: number, gain: number, delta: number) {
  // U(1) = (1 + g)·δ / g; α(1 − p*) = U(1).
  const u1 = ((1 + gain) * delta) / gain;
  const alpha = u1 / (1 - breakEven);
  return { alpha, beta: alpha * breakEven, u1 };
}

export interface PropertyOutcome {
  readonly holds: boolean;
  readonly runs: number;
  readonly counterexample?: string;
}

function check<T>(
  arb: fc.Arbitrary<T>,
  pred: (t: T) => boolean,
  seed: number,
  runs: number,
): PropertyOutcome {
  const r = fc.check(fc.property(arb, pred), { seed, numRuns: runs });
  return r.failed
    ? { holds: false, runs: r.numRuns, counterexample: fc.stringify(r.counterexample?.[0]) }
    : { holds: true, runs: r.numRuns };
}

/** eq. 4's parameters: π_cg = e_c·π_s with e_c < 1, π_cd = ρ·π_s. */
export const eq4Arbitrary = fc.record({
  n: fc.integer({ min: 1, max: 5_000 }),
  rho: fc.integer({ min: 1, max: 5_000 }),
  piS: fc.double({ min: 1e-9, max: 1, noNaN: true }),
  eC: fc.double({ min: 1e-6, max: 0.999_999, noNaN: true }),
});
export type Eq4Case = typeof eq4Arbitrary extends fc.Arbitrary<infer T> ? T : never;

/** Does the Customer process its n test inputs (core's eq. 4 test n·π_cg < π_cd)? */
export const eq4Processes = (c: Eq4Case) =>
  customerProcessesTests({ n: c.n, piCg: c.eC * c.piS, piCd: c.rho * c.piS });

/** eq. 4 as the paper states it, both directions: n < ρ ⇒ processes, and processes ⇒ n < ρ. */
export function checkEq4(seed: number, runs = 1_000) {
  return {
    sufficient: check(eq4Arbitrary, (c) => !(c.n < c.rho) || eq4Processes(c), seed, runs),
    necessary: check(eq4Arbitrary, (c) => !eq4Processes(c) || c.n < c.rho, seed, runs),
  };
}

/** eq. 6's parameters: any λΔ ≥ n ≥ 1, ρ = λΔ/n, π_se = e_s·π_s with e_s < 1, and the rest free. */
export const eq6Arbitrary = fc
  .record({
    n: fc.integer({ min: 1, max: 200 }),
    extra: fc.integer({ min: 0, max: 100_000 }),
    piS: fc.double({ min: 1e-9, max: 1, noNaN: true }),
    eS: fc.double({ min: 1e-6, max: 0.999, noNaN: true }),
    piV: fc.double({ min: 0, max: 10, noNaN: true }),
    piA: fc.double({ min: 0, max: 10, noNaN: true }),
  })
  .map(({ n, extra, piS, eS, piV, piA }): GameParameters => {
    const lambdaDelta = n + extra;
    const rho = lambdaDelta / n;
    return {
      lambdaDelta,
      n,
      piS,
      piSe: eS * piS,
      piCg: eS * piS,
      piV,
      piCc: 0,
      piA,
      piM: 0,
      piMc: 0,
      piVe: 0,
      piCd: rho * piS,
      piSd: rho * piS,
      b: 2 * piS,
    };
  });

/** eq. 6: with ρ = λΔ/n the stationary point of eq. 5 is 1/e_s ≥ 1 and the best P(s) in [0, 1] is 1. */
export function checkEq6(seed: number, runs = 1_000) {
  return {
    stationaryAtLeastOne: check(eq6Arbitrary, (g) => supplierStationaryP(g) >= 1 - 1e-9, seed, runs),
    bestIsOne: check(eq6Arbitrary, (g) => supplierBestP(g) === 1, seed, runs),
  };
}

/** The per-job costs of Table 6 a Customer might be charged, for `searchCostReadings`. */
export function customerCostTerms(t: {
  readonly piA: number;
  readonly piAe: number;
  readonly piCc: number;
  readonly piV: number;
  readonly piM: number;
  readonly piCg: number;
  readonly piSe: number;
  readonly piCd: number;
  readonly n: number;
  readonly piS: number;
}): Record<string, number> {
  return {
    π_a: t.piA,
    π_aε: t.piAe,
    π_cc: t.piCc,
    π_v: t.piV,
    π_m: t.piM,
    n·π_cg: t.n * t.piCg,
    n·π_s: t.n * t.piS,
    n·π_se: t.n * t.piSe,
    π_cd: t.piCd,
  };
}

/**
 * Every subset of `terms` taken as the Customer's fixed cost per job, with utility
 * U(p) = λΔ·b·p − λΔ·π_s − cost and withholding costing `delta` more: how many subsets give the
 * paper's break-even (82 ± 1 %), its gain at P(s) = 1 (24 ± 1 %, relative to the withholding or to
 * the submitting Customer), and both.
 */
export function searchCostReadings(
  terms: Readonly<Record<string, number>>,
  value: { readonly lambdaDelta: number; readonly piS: number; readonly b: number; readonly delta: number },
) {
  const names = Object.keys(terms);
  let breakEven = 0;
  let gain = 0;
  const both: string[][] = [];
  for (let mask = 0; mask < 1 << names.length; mask++) {
    const chosen = names.filter((_, i) => (mask & (1 << i)) !== 0);
    const cost = chosen.reduce((s, k) => s + terms[k]!, 0);
    const benefit = value.lambdaDelta * value.b;
    const fixed = value.lambdaDelta * value.piS + cost;
    const be = fixed / benefit;
    const u1 = benefit - fixed;
    const un = u1 - value.delta;
    const gains = [
      un === 0 ? Number.NaN : value.delta / Math.abs(un),
      u1 === 0 ? Number.NaN : value.delta / Math.abs(u1),
    ];
    const beHit = Math.abs(be - 0.82) <= 0.01;
    const gainHit = gains.some((g) => Math.abs(g - 0.24) <= 0.01);
    if (beHit) breakEven++;
    if (gainHit) gain++;
    if (beHit && gainHit) both.push(chosen);
  }
  return { subsets: 1 << names.length, breakEven, gain, both };
}
