// `npm run experiment -- strategies`: both experiments of paper §5.2 on two parameter sets
// (Table 6 as core derives it, and the same market without gas costs), the analytic checks, and
// the claim table. Pure computation; files are written by report.ts.
import { deriveTable6, PAPER_TABLE6_INPUTS, PAPER_TABLE6_PRINTED } from "@surplus/core";
import {
  checkEq4,
  checkEq6,
  customerBreakEven,
  customerCostTerms,
  customerGainAtOne,
  expectedUtility,
  impliedCustomerEconomics,
  type PropertyOutcome,
  searchCostReadings,
} from "./analysis.ts";
import { type ExperimentParameters, experimentParameters, Table6Source } from "./parameters.ts";
import {
  type CustomerExperimentOptions,
  type CustomerLevel,
  customerExperiment,
  FIG5,
  FIG6,
  type SupplierExperiment,
  type SupplierExperimentOptions,
  supplierExperiment,
} from "./simulate.ts";

export interface Variant {
  readonly key: string;
  readonly label: string;
  /** For figure titles. */
  readonly short: string;
  readonly params: ExperimentParameters;
  readonly fig5: SupplierExperiment;
  readonly fig6: readonly CustomerLevel[];
}

export interface StrategiesOptions {
  readonly fig5?: SupplierExperimentOptions;
  readonly fig6?: CustomerExperimentOptions;
  /** Property-test runs of eq. 4 and eq. 6. @default 2000 */
  readonly propertyRuns?: number;
}

export interface GroupSummary {
  readonly pS: number;
  /** Mean, least and greatest final cumulative utility of the group's Suppliers, USD. */
  readonly mean: number;
  readonly min: number;
  readonly max: number;
  readonly allocations: number;
}

/** One of Fig. 5's lines: a group of Suppliers by P(s), or the front-running lazy Suppliers. */
export interface Fig5Group {
  /** For CSV rows: the P(s), or "front-run". */
  readonly key: string;
  readonly pS: number;
  readonly frontRun: boolean;
  /** Indices of its Suppliers. */
  readonly members: readonly number[];
}

/** Fig. 5's groups: by P(s) in order of appearance, then the front-running lazy Suppliers if any. */
export function fig5Groups(e: SupplierExperiment): Fig5Group[] {
  const front = (i: number) => e.frontRunner?.[i] === true;
  const indices = e.supplierP.map((_, i) => i);
  const groups: Fig5Group[] = [...new Set(e.supplierP.filter((_, i) => !front(i)))].map((pS) => ({
    key: String(pS),
    pS,
    frontRun: false,
    members: indices.filter((i) => !front(i) && e.supplierP[i] === pS),
  }));
  const runners = indices.filter(front);
  if (runners.length) groups.push({ key: "front-run", pS: 0, frontRun: true, members: runners });
  return groups;
}

/** Final utilities of Fig. 5's groups by P(s) (the front-running Suppliers: `frontRunnerSummary`). */
export function groupSummary(e: SupplierExperiment): GroupSummary[] {
  return fig5Groups(e)
    .filter((g) => !g.frontRun)
    .map((g) => summaryOf(e, g));
}

/** Final utilities of the front-running lazy Suppliers, if the experiment has any. */
export function frontRunnerSummary(e: SupplierExperiment): GroupSummary | undefined {
  const g = fig5Groups(e).find((x) => x.frontRun);
  return g && summaryOf(e, g);
}

function summaryOf(e: SupplierExperiment, g: Fig5Group): GroupSummary {
  const finals = g.members.map((i) => e.cumulative[i]!).map((c) => c[c.length - 1] ?? 0);
  const counts = g.members.map((i) => e.cumulative[i]!.length);
  return {
    pS: g.pS,
    mean: finals.reduce((a, b) => a + b, 0) / finals.length,
    min: Math.min(...finals),
    max: Math.max(...finals),
    allocations: Math.round(counts.reduce((a, b) => a + b, 0) / counts.length),
  };
}

/** The P(s) at which the submitting Customer's utility crosses zero (linear interpolation), if it does. */
export function breakEvenOf(levels: readonly CustomerLevel[]): number | undefined {
  for (let i = 1; i < levels.length; i++) {
    const a = levels[i - 1]!;
    const b = levels[i]!;
    if ((a.submits < 0 && b.submits >= 0) || (a.submits > 0 && b.submits <= 0))
      return a.pS + ((0 - a.submits) / (b.submits - a.submits)) * (b.pS - a.pS);
  }
  return undefined;
}

/** R² of the least-squares line through (P(s), utility of the submitting Customer). */
export function linearity(levels: readonly CustomerLevel[]): number {
  const xs = levels.map((l) => l.pS);
  const ys = levels.map((l) => l.submits);
  const n = xs.length;
  const mx = xs.reduce((a, b) => a + b, 0) / n;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (let i = 0; i < n; i++) {
    sxy += (xs[i]! - mx) * (ys[i]! - my);
    sxx += (xs[i]! - mx) ** 2;
    syy += (ys[i]! - my) ** 2;
  }
  return syy === 0 ? 1 : (sxy * sxy) / (sxx * syy);
}

export interface Analysis {
  readonly eq4: { readonly sufficient: PropertyOutcome; readonly necessary: PropertyOutcome };
  readonly eq6: { readonly stationaryAtLeastOne: PropertyOutcome; readonly bestIsOne: PropertyOutcome };
  /** argmax over P(s) ∈ {0, 0.01, …, 1} of the Supplier's expected utility under the contract's rules, per variant. */
  readonly contractBestP: Readonly<Record<string, number>>;
  /** Expected-value figures for four readings of Table 6 (derived/printed × with/without gas). */
  readonly readings: ReadonlyArray<{
    readonly label: string;
    readonly breakEven: number;
    readonly gainAtOne: number;
    readonly customerAtOne: number;
    readonly supplierHonest: number;
    readonly supplierCheat: number;
  }>;
  /** Which subsets of Table 6's cost terms, charged to the Customer per job, give the paper's figures (derived and printed Table 6). */
  readonly costSearch: ReadonlyArray<{ readonly label: string } & ReturnType<typeof searchCostReadings>>;
  /** What the paper's 82 % and +24 % would need: λΔ·b and fixed cost per job (USD). */
  readonly implied: {
    readonly alpha: number;
    readonly beta: number;
    readonly u1: number;
    readonly delta: number;
  };
}

export interface StrategiesResult {
  readonly seed: number;
  readonly variants: readonly Variant[];
  readonly analysis: Analysis;
}

/** Runs everything; `progress` gets a line whenever another 10 % of the simulated rounds is done. */
export function runStrategies(
  seed: number,
  o: StrategiesOptions = {},
  progress: (line: string) => void = () => {},
): StrategiesResult {
  const fig5 = o.fig5 ?? FIG5;
  const fig6 = o.fig6 ?? FIG6;
  const defs = [
    { key: "table6", label: "Table 6 (derived by core)", short: "Table 6", params: experimentParameters() },
    {
      key: "no-gas",
      label: "Table 6 without gas (π_a = π_aε, π_cc = π_v = 0)",
      short: "Table 6 without gas",
      params: experimentParameters({ gas: false }),
    },
  ];
  const perVariant = fig5.rounds + fig6.levels.length * fig6.jobs;
  const total = defs.length * perVariant;
  let lastDecile = 0;
  const tick = (done: number) => {
    const decile = Math.floor((done / total) * 10);
    if (decile > lastDecile) {
      lastDecile = decile;
      progress(`${decile * 10}% (${done}/${total} rounds)`);
    }
  };
  const variants: Variant[] = defs.map((d, vi) => {
    const base = vi * perVariant;
    const f5 = supplierExperiment(d.params, seed, fig5, (done) => tick(base + done));
    const f6 = customerExperiment(d.params, seed, fig6, (done) => tick(base + fig5.rounds + done));
    return { ...d, fig5: f5, fig6: f6 };
  });

  const runs = o.propertyRuns ?? 2_000;
  const contractBestP: Record<string, number> = {};
  for (const d of defs) {
    let best = 0;
    for (let k = 0; k <= 100; k++) {
      if (expectedUtility(d.params, k / 100).supplier > expectedUtility(d.params, best).supplier)
        best = k / 100;
    }
    contractBestP[d.key] = best;
  }
  const readings = [
    { label: "derived, with gas", params: experimentParameters() },
    { label: "printed, with gas", params: experimentParameters({ source: Table6Source.Printed }) },
    { label: "derived, without gas", params: experimentParameters({ gas: false }) },
    {
      label: "printed, without gas",
      params: experimentParameters({ source: Table6Source.Printed, gas: false }),
    },
  ].map(({ label, params }) => ({
    label,
    breakEven: customerBreakEven(params),
    gainAtOne: customerGainAtOne(params),
    customerAtOne: expectedUtility(params, 1).customer,
    supplierHonest: expectedUtility(params, 1).supplier,
    supplierCheat: expectedUtility(params, 0).supplier,
  }));
  const delta = PAPER_TABLE6_PRINTED.piCd - PAPER_TABLE6_PRINTED.n * PAPER_TABLE6_PRINTED.piCg;
  return {
    seed,
    variants,
    analysis: {
      eq4: checkEq4(seed, runs),
      eq6: checkEq6(seed, runs),
      contractBestP,
      readings,
      costSearch: [
        {
          label: "derived",
          t: { ...experimentParameters().table6, piA: deriveTable6(PAPER_TABLE6_INPUTS).piA },
        },
        { label: "printed", t: PAPER_TABLE6_PRINTED },
      ].map(({ label, t }) => ({
        label,
        ...searchCostReadings(customerCostTerms({ ...t, piS: PAPER_TABLE6_INPUTS.piS }), {
          lambdaDelta: t.lambdaDelta,
          piS: PAPER_TABLE6_INPUTS.piS,
          b: PAPER_TABLE6_INPUTS.b,
          delta: t.piCd - t.n * t.piCg,
        }),
      })),
      implied: { ...impliedCustomerEconomics(0.82, 0.24, delta), delta },
    },
  };
}
