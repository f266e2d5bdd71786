// The strategy experiments of paper §5.2: simulated Suppliers and Customers with configurable
// honesty, allocations by the real Allocator, behaviour per input by edge's Supplier strategy,
// and payments and fines by the contract's settlement rules (settlement.ts, proven equal to the
// contract by test/settlement.contract.test.ts).
import type { Bytes32 } from "@surplus/core";
import { CheatMode, decider } from "@surplus/edge";
import { type MatchedAllocation, matchRound, roundOffers } from "./market.ts";
import { type ExperimentParameters, unitsToUsd } from "./parameters.ts";
import { binomial, rngOf, seedOf } from "./random.ts";
import { type Lifecycle, netFlow, type Settlement, settle } from "./settlement.ts";

/** Stand-ins for γ values: the true γ over the test positions, and wrong ones. */
const GAMMA = {
  true: `0x${"11".repeat(32)}` as Bytes32,
  customerWrong: `0x${"c0".repeat(32)}` as Bytes32,
  supplierWrong: (i: number) => `0x${(0x50 + i).toString(16).padStart(2, "0").repeat(32)}` as Bytes32,
} as const;

/** What happened in one simulated allocation, and what each party made of it (USD). */
export interface AllocationOutcome {
  readonly round: number;
  readonly customer: number;
  readonly suppliers: readonly number[];
  /** Whether the Customer processed its n test inputs and committed their outputs. */
  readonly customerHonest: boolean;
  /** Per Supplier: skipped at least one of the n test inputs. */
  readonly caught: readonly boolean[];
  /** Per Supplier: inputs processed (of λΔ). */
  readonly processed: readonly number[];
  readonly testCount: number;
  readonly inputs: number;
  readonly settlement: Settlement;
  /** Utility of each party in this allocation, USD: on-chain change plus off-chain costs/benefits. */
  readonly utility: {
    readonly customer: number;
    readonly suppliers: readonly number[];
    readonly mediator: number;
    readonly allocator: number;
  };
}

/** Thrown when an allocation's money is not conserved (the settlement would be wrong). */
export class MoneyNotConservedError extends Error {
  override readonly name = "MoneyNotConservedError";
  readonly round: number;
  readonly customer: number;
  readonly net: bigint;
  constructor(round: number, customer: number, net: bigint) {
    super(`allocation of round ${round}, Customer ${customer}: balance changes sum to ${net}, not 0`);
    this.round = round;
    this.customer = customer;
    this.net = net;
  }
}

/**
 * Simulates one allocation. Each Supplier decides input by input with edge's strategy (process
 * with probability P(s), otherwise skip); it is caught when it skipped any of the n test positions
 * of the live stream (probability 1 − P(s)^n). The Customer is honest (runs its service on the
 * inputs at its n test positions as they pass and settles with γ_c and the Suppliers whose live
 * output there was missing as disputed) with probability P(c); otherwise it never computes them,
 * settles with a γ_c that matches nobody and disputes nobody, and the Mediator (who re-processes
 * the n test inputs) finds it at fault. A caught Supplier seals a wrong γ and the Mediator finds
 * it lazy.
 *
 * A front-running Supplier (`frontRun[i]`, issue 14 threat 1) skips the live stream like the others
 * at its P(s), but once the checklist is revealed it runs the n test inputs late (n·π_se more),
 * seals the true γ and tries to settle before the Customer: the contract refuses (only the
 * Customer settles), so it is judged by the Customer's dispute and the Mediator's lazy check. The
 * Customer benefits b from each processed output.
 */
export function simulateAllocation(
  p: ExperimentParameters,
  m: MatchedAllocation,
  supplierP: readonly number[],
  customerP: number,
  seed: number,
  round: number,
  frontRun: readonly boolean[] = [],
): AllocationOutcome {
  const a = m.allocation;
  const n = a.testCount;
  const inputs = a.inputsPerSecond * (a.end - a.start);
  const rng = rngOf(seed, 1, round, m.customer);
  const customerHonest = rng() < customerP;
  // The n secret test positions (sequence numbers) the Customer mixes into the stream.
  const tests = new Set<number>();
  while (tests.size < n) tests.add(Math.floor(rng() * inputs));

  const caught: boolean[] = [];
  const processed: number[] = [];
  m.suppliers.forEach((s, i) => {
    const pS = supplierP[i]!;
    const decide = decider({
      processProbability: pS,
      cheatMode: CheatMode.Skip,
      seed: seedOf(seed, 2, round, s),
    });
    let testsDone = 0;
    for (const seq of tests) if (decide(BigInt(seq)) === "process") testsDone++;
    caught.push(testsDone < n);
    // The other inputs are processed independently with the same P(s) (drawn in bulk).
    processed.push(testsDone + binomial(inputs - n, pS, rngOf(seed, 3, round, s)));
  });

  let lazy = 0;
  let frontRunners = 0;
  caught.forEach((c, i) => {
    if (c) lazy |= 1 << i;
    if (frontRun[i]) frontRunners |= 1 << i;
  });
  // A front-runner's seal is right whatever it skipped: it computed the tests once they were known.
  const results = caught.map((c, i) => (c && !frontRun[i] ? GAMMA.supplierWrong(i) : GAMMA.true));
  const life: Lifecycle = {
    signed: { customer: true, mediator: true, suppliers: a.suppliers.map(() => true) },
    gammaC: customerHonest ? GAMMA.true : GAMMA.customerWrong,
    ending: {
      kind: "settled",
      frontRunners,
      disputed: customerHonest ? lazy : 0,
      results,
      mediation: { kind: "mediated", gammaM: GAMMA.true, lazy, results },
    },
  };
  const s = settle(a, p.market, life);
  const net = netFlow(s);
  if (net !== 0n) throw new MoneyNotConservedError(round, m.customer, net);

  const u = p.usd;
  // The Customer receives an output for each input some replica processed (r = 1 here: that replica's).
  const delivered = Math.max(0, ...processed);
  return {
    round,
    customer: m.customer,
    suppliers: m.suppliers,
    customerHonest,
    caught,
    processed,
    testCount: n,
    inputs,
    settlement: s,
    utility: {
      customer: unitsToUsd(s.customer) + u.b * delivered - (customerHonest ? n * u.piCg : 0) - u.piCc,
      suppliers: s.suppliers.map(
        (x, i) => unitsToUsd(x) - u.piSe * (processed[i]! + (frontRun[i] && caught[i] ? n : 0)) - u.piV,
      ),
      mediator: unitsToUsd(s.mediator) - (s.mediating !== 0 ? n * u.piSe + u.piMc : 0),
      allocator: unitsToUsd(s.allocator) - p.table6.piA,
    },
  };
}

/** Reports progress: `done` of `total` work units (rounds). */
export type Progress = (done: number, total: number) => void;

/** P(s) and P(c) of the six groups of Fig. 5. */
export const GROUPS = [0, 0.2, 0.4, 0.6, 0.8, 1] as const;

export interface SupplierExperimentOptions {
  readonly suppliers: number;
  readonly customers: number;
  /** Offers each participant sends (one per round). */
  readonly rounds: number;
  readonly groups: readonly number[];
  /**
   * How many of the `suppliers` (the last ones) are front-running lazy Suppliers: P(s) = 0 on the
   * live stream, the tests answered late and a settle tried first (issue 14). @default 0
   */
  readonly frontRunners?: number;
}

/** Fig. 5: six groups of five by P(s), and a seventh of five front-running lazy Suppliers. */
export const FIG5: SupplierExperimentOptions = {
  suppliers: 35,
  customers: 35,
  rounds: 100,
  groups: GROUPS,
  frontRunners: 5,
};

export interface SupplierExperiment {
  readonly options: SupplierExperimentOptions;
  /** P(s) of each Supplier, P(c) of each Customer. */
  readonly supplierP: readonly number[];
  /** Per Supplier: a front-running lazy one (its P(s) is 0). */
  readonly frontRunner: readonly boolean[];
  readonly customerP: readonly number[];
  /** Per Supplier, its cumulative utility (USD) after each of its allocations. */
  readonly cumulative: readonly (readonly number[])[];
  readonly allocations: readonly AllocationOutcome[];
}

/** Fig. 5: Suppliers and Customers in groups by P(s) and P(c), `rounds` offers each. */
export function supplierExperiment(
  p: ExperimentParameters,
  seed: number,
  o: SupplierExperimentOptions = FIG5,
  progress: Progress = () => {},
): SupplierExperiment {
  const groupOf = (i: number, count: number) =>
    o.groups[Math.min(o.groups.length - 1, Math.floor((i * o.groups.length) / count))]!;
  const random = o.suppliers - (o.frontRunners ?? 0);
  const frontRunner = Array.from({ length: o.suppliers }, (_, i) => i >= random);
  const supplierP = Array.from({ length: o.suppliers }, (_, i) => (frontRunner[i] ? 0 : groupOf(i, random)));
  const customerP = Array.from({ length: o.customers }, (_, i) => groupOf(i, o.customers));
  const cumulative: number[][] = supplierP.map(() => []);
  const allocations: AllocationOutcome[] = [];
  for (let round = 0; round < o.rounds; round++) {
    const offers = roundOffers(p, seed, round, o.customers, o.suppliers);
    for (const m of matchRound(p, offers, round)) {
      const out = simulateAllocation(
        p,
        m,
        m.suppliers.map((s) => supplierP[s]!),
        customerP[m.customer]!,
        seed,
        round,
        m.suppliers.map((s) => frontRunner[s]!),
      );
      allocations.push(out);
      out.suppliers.forEach((s, i) => {
        const series = cumulative[s]!;
        series.push((series[series.length - 1] ?? 0) + out.utility.suppliers[i]!);
      });
    }
    progress(round + 1, o.rounds);
  }
  return { options: o, supplierP, frontRunner, customerP, cumulative, allocations };
}

export interface CustomerExperimentOptions {
  /** System-wide P(s) of the Suppliers, one simulation each. */
  readonly levels: readonly number[];
  /** Jobs (allocations) of each Customer per simulation. */
  readonly jobs: number;
  /** Suppliers in the market (all at the level's P(s)). */
  readonly suppliers: number;
}

/** Fig. 6: nine simulations, P(s) = 60 %, 65 %, …, 100 %; 1000 jobs each. */
export const FIG6: CustomerExperimentOptions = {
  levels: [0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1],
  jobs: 1000,
  suppliers: 4,
};

export interface CustomerLevel {
  readonly pS: number;
  /** Total utility (USD) after the jobs of the Customer that submits its n test outputs, and of the one that does not. */
  readonly submits: number;
  readonly withholds: number;
  readonly jobs: { readonly submits: number; readonly withholds: number };
  /** Fraction of allocations in which the Supplier was caught. */
  readonly caughtRate: number;
  /** Whether every allocation conserved money (it throws otherwise; kept for the report). */
  readonly conserved: boolean;
}

/** Fig. 6: per P(s), a Customer that submits its n test outputs (P(c) = 1) against one that does not (P(c) = 0). */
export function customerExperiment(
  p: ExperimentParameters,
  seed: number,
  o: CustomerExperimentOptions = FIG6,
  progress: Progress = () => {},
): CustomerLevel[] {
  const total = o.levels.length * o.jobs;
  const levels: CustomerLevel[] = [];
  o.levels.forEach((pS, li) => {
    const totals = [0, 0];
    const jobs = [0, 0];
    let caught = 0;
    let count = 0;
    const levelSeed = seedOf(seed, 6, li);
    for (let round = 0; round < o.jobs; round++) {
      const offers = roundOffers(p, levelSeed, round, 2, o.suppliers);
      for (const m of matchRound(p, offers, round)) {
        const out = simulateAllocation(
          p,
          m,
          m.suppliers.map(() => pS),
          m.customer === 0 ? 1 : 0,
          levelSeed,
          round,
        );
        totals[m.customer]! += out.utility.customer;
        jobs[m.customer]!++;
        if (out.caught.some(Boolean)) caught++;
        count++;
      }
      progress(li * o.jobs + round + 1, total);
    }
    levels.push({
      pS,
      submits: totals[0]!,
      withholds: totals[1]!,
      jobs: { submits: jobs[0]!, withholds: jobs[1]! },
      caughtRate: count === 0 ? 0 : caught / count,
      conserved: true,
    });
  });
  return levels;
}
