// `npm run bench:allocator`: the auction's speed, and its welfare against the exact optimum and
// against the paper's reference method. Prints a table and writes bench/results/allocator.json.
//
// 1. Time of one round (core runAuction) at 1k, 10k and 100k open offers, half Customers and
//    half Suppliers, seeded realistic windows/prices/resources, r ∈ {1, 2, 3}
//    (allocator-instances.ts). Offer ids are precomputed (the registry stores them), so the time is
//    the auction alone. Best of 5 runs (2 at 100k: V8 needs a few to optimise the hot loops, as a
//    warm Lambda container has), each size in a child process with a 5-minute
//    limit (a row of −1 means it did not finish). Growth near n log n is judged on one greedy pass
//    per size (rows growth_*, target ≤ 1.5× the n log n factor): markets of at most 2,000 offers
//    run several passes for welfare (their round row says how many), larger ones one, so the 1k
//    round also times one pass alone (pass_ms_1k) for the comparison.
// 2. Welfare against the optimum on small instances (40–80 offers, windows on a one-hour grid
//    over 8 h). The optimum is the exact MILP below, solved with HiGHS (npm `highs`). With every
//    window boundary on the grid and δ_min ≤ the grid step, serving each elementary interval
//    (between consecutive boundaries) by its own allocation is always allowed, and usage is
//    constant within one, so this MILP is exact for our model (no row links two intervals, so it is
//    solved one elementary interval at a time and the optima are added up):
//      x[c,s,τ] ∈ {0,1}  s serves one replica of c during elementary interval τ
//      y[c,τ]   ∈ {0,1}  c is served during τ;  z[c,m,τ] ∈ {0,1}  with Mediator m
//      max Σ (π_xmax(c) − π_xmin(s))·I_c·λ·|τ|·x
//      Σ_s x[c,s,τ] ≤ r_c·y[c,τ];  Σ_s x[c,s,τ] ≥ r_min·y[c,τ];  Σ_m z[c,m,τ] ≤ y[c,τ]
//      x[c,s,τ] ≤ Σ_{m trusted by c and s} z[c,m,τ]
//      Σ_c I_c·λ·x[c,s,τ] ≤ I_s;  Σ_c R_c·x[c,s,τ] ≤ R_s
//    with x defined only for pairs that meet eq. 1 (and share a Mediator) where both windows
//    cover τ. Every offer has its own account, so distinct Suppliers = distinct accounts.
//    On 120–200 offers (where HiGHS does not prove the MILP in time) our welfare is compared with
//    the LP relaxation's optimum instead: an upper bound on the optimum, so those ratios
//    (welfare_lp_bound_*) are lower bounds on ours.
// 3. The reference method (max-cardinality matching, rank re-pairing, midpoint price) on the same
//    instances: its welfare counts only the pairs that are feasible; the others are counted.
import { spawnSync } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  type Address,
  type AuctionInput,
  auctionPasses,
  checkRound,
  ORDERS,
  pairFeasibility,
  referenceAllocate,
  requiredMips,
  runAuction,
  runGreedy,
} from "@surplus/core";
import highsImport from "highs";
import { generateInstance, type Instance } from "./allocator-instances.ts";

// `highs` ships ESM at run time but CommonJS-flavoured types: its default export is the loader.
const highsLoader = highsImport as unknown as (typeof highsImport)["default"];
const ALLOCATOR = "0x00000000000000000000000000000000000A110C" as Address;
const RESULTS = join(dirname(fileURLToPath(import.meta.url)), "../results/allocator.json");
const say = (line: string) => process.stderr.write(`[bench:allocator] ${line}\n`);

function inputOf(inst: Instance): AuctionInput {
  return {
    customers: inst.customers,
    suppliers: inst.suppliers,
    params: { allocator: ALLOCATOR, nowSeconds: inst.nowSeconds, penaltyRate: 1_000n },
  };
}

/** Welfare in units of 10^9 base units (the price unit), as a float. */
const units = (w: bigint) => Number(w / 1_000n) / 1e6;

function timeRound(n: number): { ms: number; passes: number; passMs: number } {
  const inst = generateInstance({ seed: n, customers: n / 2, suppliers: n / 2 });
  const input = inputOf(inst);
  const runs = n >= 100_000 ? 2 : 5;
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    const result = runAuction(input);
    const ms = performance.now() - t;
    best = Math.min(best, ms);
    say(
      `  ${n} offers: ${ms.toFixed(0)} ms (${result.allocations.length} allocations, ${
        result.customers.filter((c) => c.pieces.some((p) => p.allocation !== undefined)).length
      } Customers served)`,
    );
  }
  const passes = auctionPasses(input);
  // One greedy pass, as markets over 2,000 offers run: what the growth from size to size compares.
  let passMs = best;
  if (passes > 1) {
    passMs = Infinity;
    for (let i = 0; i < runs; i++) {
      const t = performance.now();
      runGreedy(input, ORDERS.slice(0, 1), 0);
      passMs = Math.min(passMs, performance.now() - t);
    }
    say(`  ${n} offers: one greedy pass ${passMs.toFixed(0)} ms`);
  }
  return { ms: best, passes, passMs };
}

/**
 * The MILP of the header, one per elementary interval τ: no constraint links two intervals (every
 * variable and row is indexed by one τ), so the optimum is the sum of the intervals' optima and
 * HiGHS solves many small problems instead of one large one. Empty intervals are left out.
 */
export function milp(inst: Instance): string[] {
  const boundaries = new Set<number>();
  for (const o of [...inst.customers, ...inst.suppliers]) {
    boundaries.add(o.offer.start);
    boundaries.add(o.offer.end);
  }
  const points = [...boundaries].sort((a, b) => a - b);
  const intervals = points.slice(1).map((end, i) => ({ start: points[i]!, end }));
  const problems: string[] = [];
  intervals.forEach((tau, ti) => {
    const objective: string[] = [];
    const rows: string[] = [];
    const binaries: string[] = [];
    const capacity = new Map<number, { mips: string[]; ram: string[] }>();
    inst.customers.forEach((c, ci) => {
      const o = c.offer;
      if (tau.start < o.start || tau.end > o.end) return;
      const xs: string[] = [];
      const zs = new Map<Address, string>();
      for (const [mi, m] of inst.mediators.entries())
        if (o.mediators.includes(m)) zs.set(m, `z_${ci}_${mi}_${ti}`);
      inst.suppliers.forEach((s, si) => {
        const so = s.offer;
        if (tau.start < so.start || tau.end > so.end) return;
        if (requiredMips(o) > so.capacityMips || o.ramMb > so.ramMb || so.minPricePerMi > o.maxPricePerMi)
          return;
        const shared = so.mediators.filter((m) => zs.has(m));
        if (shared.length === 0 || so.account === o.account) return;
        const x = `x_${ci}_${si}_${ti}`;
        xs.push(x);
        binaries.push(x);
        const w = units(
          (o.maxPricePerMi - so.minPricePerMi) * BigInt(requiredMips(o) * (tau.end - tau.start)),
        );
        objective.push(`${w} ${x}`);
        rows.push(`${x} - ${shared.map((m) => zs.get(m)).join(" - ")} <= 0`);
        const cap = capacity.get(si) ?? { mips: [], ram: [] };
        cap.mips.push(`${requiredMips(o)} ${x}`);
        cap.ram.push(`${o.ramMb} ${x}`);
        capacity.set(si, cap);
      });
      if (xs.length === 0) return;
      const y = `y_${ci}_${ti}`;
      binaries.push(y, ...zs.values());
      rows.push(`${xs.join(" + ")} - ${o.replicas} ${y} <= 0`);
      rows.push(`${xs.join(" + ")} - ${o.minReplicas} ${y} >= 0`);
      rows.push(`${[...zs.values()].join(" + ")} - ${y} <= 0`);
    });
    for (const [si, cap] of capacity) {
      const so = inst.suppliers[si]!.offer;
      rows.push(`${cap.mips.join(" + ")} <= ${so.capacityMips}`);
      rows.push(`${cap.ram.join(" + ")} <= ${so.ramMb}`);
    }
    if (objective.length === 0) return;
    problems.push(
      [
        "Maximize",
        ` obj: ${objective.join(" + ")}`,
        "Subject To",
        ...rows.map((r, i) => ` r${i}: ${r}`),
        "Binary",
        ...binaries.map((b) => ` ${b}`),
        "End",
      ].join("\n"),
    );
  });
  return problems;
}

/**
 * The LP relaxation of one of `milp`'s problems: every binary becomes a variable in [0, 1]. Its
 * optimum bounds the MILP's from above, so welfare / (sum of these) is a lower bound on the ratio
 * to the optimum, for instances the exact MILP cannot be proven on in time.
 */
export function lpRelaxation(problem: string): string {
  const [head, binaries] = problem.split("\nBinary\n") as [string, string];
  const vars = binaries
    .replace(/\nEnd$/, "")
    .split("\n")
    .map((b) => b.trim())
    .filter(Boolean);
  return [head, "Bounds", ...vars.map((v) => ` 0 <= ${v} <= 1`), "End"].join("\n");
}

function referenceWelfare(inst: Instance): { welfare: number; infeasible: number; pairs: number } {
  const ref = referenceAllocate(inst.customers, inst.suppliers);
  const customers = new Map(inst.customers.map((c) => [c.id, c.offer]));
  const suppliers = new Map(inst.suppliers.map((s) => [s.id, s.offer]));
  let welfare = 0n;
  let infeasible = 0;
  for (const p of ref.pairs) {
    const c = customers.get(p.customerOfferId)!;
    const s = suppliers.get(p.supplierOfferId)!;
    const f = pairFeasibility(s, c, inst.nowSeconds);
    if (!f.feasible) infeasible++;
    else
      welfare +=
        (c.maxPricePerMi - s.minPricePerMi) * BigInt(requiredMips(c) * (f.window.end - f.window.start));
  }
  return { welfare: units(welfare), infeasible, pairs: ref.pairs.length };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

interface Row {
  name: string;
  value: number;
  unit: string;
  target: string;
  /** Greedy passes the timed round made (timing rows). */
  passes?: number;
  /** "met" or "MISSED" for rows with a target. */
  status?: string;
}

/** Whether a row meets its target ("≤ x", "≥ x" or "0"). */
function verdict(row: Row): string | undefined {
  const ok = (met: boolean) => (met ? "met" : "MISSED");
  const bound = /^([≤≥]) ([\d.]+)$/.exec(row.target);
  if (bound) {
    if (row.value < 0) return "MISSED";
    return ok(bound[1] === "≤" ? row.value <= Number(bound[2]) : row.value >= Number(bound[2]));
  }
  if (row.target === "0") return ok(row.value === 0);
  return undefined;
}

async function main() {
  const rows: Row[] = [];
  const skipTiming = process.argv.includes("--welfare-only");
  const passMs = new Map<number, number>();
  if (!skipTiming) say("timing one round (best of 3; 1 run at 100k), each size in its own process…");
  for (const [n, name] of skipTiming
    ? []
    : ([
        [1_000, "round_ms_1k"],
        [10_000, "round_ms_10k"],
        [100_000, "round_ms_100k"],
      ] as const)) {
    const timed = timeInChild(n, TIME_LIMIT_MS);
    const ms = timed?.ms;
    if (timed) passMs.set(n, timed.passMs);
    if (ms === undefined) say(`  ${n} offers: no result within ${TIME_LIMIT_MS / 1000} s`);
    // The machine is shared: the 1-minute load average after the run says how far to trust it.
    const load = loadavg()[0]!.toFixed(1);
    rows.push({
      name,
      value: ms === undefined ? -1 : Math.round(ms),
      unit:
        timed === undefined
          ? `ms (> ${TIME_LIMIT_MS} ms, stopped; load ${load})`
          : `ms (${timed.passes} passes, load ${load})`,
      ...(timed ? { passes: timed.passes } : {}),
      target: n === 100_000 ? "≤ 2000" : "",
    });
    if (timed && timed.passes > 1)
      rows.push({
        name: `pass_ms_${n / 1000}k`,
        value: Math.round(timed.passMs),
        unit: "ms (1 greedy pass)",
        target: "",
      });
  }
  // Growth near n log n: one greedy pass at each size against one at the size before (a small
  // market's round runs refinement passes a large one does not, so whole rounds do not compare).
  for (const [n, name] of [
    [10_000, "growth_1k_to_10k"],
    [100_000, "growth_10k_to_100k"],
  ] as const) {
    const now = passMs.get(n);
    const before = passMs.get(n / 10);
    const factor = (n * Math.log(n)) / ((n / 10) * Math.log(n / 10));
    rows.push({
      name,
      value: now !== undefined && before !== undefined ? round3(now / before) : -1,
      unit: `× per pass (n log n: ${factor.toFixed(1)})`,
      target: `≤ ${(1.5 * factor).toFixed(1)}`,
    });
  }

  say("welfare against the exact optimum (HiGHS MILP) and the reference method…");
  const highs = await highsLoader();
  const ratios: number[] = [];
  const refRatios: number[] = [];
  let refInfeasible = 0;
  let refPairs = 0;
  let problems = 0;
  // HiGHS proves optimality within a minute up to about 80 offers on these markets; instances it
  // cannot solve in time are left out of the ratios (and counted). Larger ones were tried with 60 s
  // per elementary interval: 2 of 6 instances of 120 offers and none of 6 of 160 offers were
  // proven optimal (200 not tried; this shared machine, November 2026), too few for the ratios.
  const sizes = [40, 60, 80];
  const seeds = [1, 2, 3, 4, 5, 6];
  /** A welfare instance (windows on a one-hour grid over 8 h) and our round on it, feasibility-checked. */
  const welfareRound = (size: number, seed: number) => {
    const inst = generateInstance({
      seed: 1_000 * size + seed,
      customers: size / 2,
      suppliers: size / 2,
      horizonHours: 8,
      gridSeconds: 3_600,
    });
    const input = inputOf(inst);
    const result = runAuction(input);
    problems += checkRound(input, result).length;
    return { inst, result };
  };
  let optimal = 0;
  let done = 0;
  for (const size of sizes) {
    for (const seed of seeds) {
      const { inst, result } = welfareRound(size, seed);
      const started = performance.now();
      let optimum = 0;
      let status = "Optimal";
      for (const lp of milp(inst)) {
        const left = MILP_SECONDS - (performance.now() - started) / 1000;
        const solution = left > 0 ? highs.solve(lp, { time_limit: left, mip_rel_gap: 1e-6 }) : undefined;
        optimum += solution?.ObjectiveValue ?? 0;
        if (solution?.Status !== "Optimal") {
          status = solution?.Status ?? "Time limit reached";
          break;
        }
      }
      const ours = units(result.welfare);
      const ref = referenceWelfare(inst);
      refInfeasible += ref.infeasible;
      refPairs += ref.pairs;
      if (optimum > 0 && status === "Optimal") {
        optimal++;
        ratios.push(ours / optimum);
        refRatios.push(ref.welfare / optimum);
      }
      done++;
      say(
        `  [${done}/${sizes.length * seeds.length}] ${size} offers seed ${seed}: ours ${(100 * (optimum > 0 ? ours / optimum : 1)).toFixed(1)} %, reference ${(100 * (optimum > 0 ? ref.welfare / optimum : 1)).toFixed(1)} % (${ref.infeasible}/${ref.pairs} infeasible pairs), MILP ${status} in ${((performance.now() - started) / 1000).toFixed(1)} s`,
      );
    }
  }
  // Larger markets, up to 200 offers: HiGHS does not prove the MILP optimal in time there, so our
  // welfare is compared with the LP relaxation's optimum, an upper bound on the MILP's (on the
  // 40–80-offer instances the MILP optimum is 97–98 % of it): these ratios are lower bounds.
  const boundRatios: number[] = [];
  const largeSizes = [120, 160, 200];
  for (const size of largeSizes) {
    for (const seed of seeds) {
      const { inst, result } = welfareRound(size, seed);
      let bound = 0;
      for (const lp of milp(inst)) {
        const solution = highs.solve(lpRelaxation(lp));
        if (solution.Status !== "Optimal")
          throw new Error(`LP relaxation: ${solution.Status} (${size} offers, seed ${seed})`);
        bound += solution.ObjectiveValue;
      }
      if (bound > 0) boundRatios.push(units(result.welfare) / bound);
      say(
        `  ${size} offers seed ${seed}: ours ≥ ${(100 * (bound > 0 ? units(result.welfare) / bound : 1)).toFixed(1)} % of the optimum (LP bound)`,
      );
    }
  }
  rows.push(
    { name: "welfare_ratio_median", value: round3(median(ratios)), unit: "ratio", target: "≥ 0.97" },
    { name: "welfare_ratio_min", value: round3(Math.min(...ratios)), unit: "ratio", target: "≥ 0.90" },
    {
      name: "reference_welfare_ratio_median",
      value: round3(median(refRatios)),
      unit: "ratio",
      target: "(baseline)",
    },
    {
      name: "reference_infeasible_pairs",
      value: refInfeasible,
      unit: `of ${refPairs} pairs`,
      target: "(baseline)",
    },
    {
      name: "welfare_lp_bound_ratio_median",
      value: round3(median(boundRatios)),
      unit: "ratio ≥ (120–200 offers)",
      target: "(lower bound)",
    },
    {
      name: "welfare_lp_bound_ratio_min",
      value: round3(Math.min(...boundRatios)),
      unit: "ratio ≥ (120–200 offers)",
      target: "(lower bound)",
    },
    { name: "infeasible_allocations", value: problems, unit: "violations", target: "0" },
    { name: "milp_instances_optimal", value: optimal, unit: `of ${done} (40–80 offers)`, target: "(info)" },
  );

  for (const r of rows) r.status = verdict(r);
  mkdirSync(dirname(RESULTS), { recursive: true });
  writeFileSync(RESULTS, `${JSON.stringify(rows, null, 2)}\n`);
  const pad = (s: string, n: number) => s.padEnd(n);
  console.log(`\n${pad("metric", 32)}${pad("value", 10)}${pad("unit", 40)}${pad("target", 16)}status`);
  console.log("-".repeat(104));
  for (const r of rows)
    console.log(
      `${pad(r.name, 32)}${pad(String(r.value), 10)}${pad(r.unit, 40)}${pad(r.target, 16)}${r.status ?? ""}`,
    );
  console.log(`\nwritten to ${RESULTS}`);
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** HiGHS time for one instance (all its intervals); an instance not proven optimal by then is left out. */
const MILP_SECONDS = 60;

/** Wall-clock limit for one timing process. */
const TIME_LIMIT_MS = 300_000;

/** Times one size in a child process (a round cannot be interrupted), or undefined on timeout. */
function timeInChild(n: number, limitMs: number): { ms: number; passes: number; passMs: number } | undefined {
  const child = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--time", String(n)], {
    timeout: limitMs,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (child.status !== 0) return undefined;
  return JSON.parse(child.stdout.trim()) as { ms: number; passes: number; passMs: number };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const at = process.argv.indexOf("--time");
  if (at >= 0) console.log(JSON.stringify(timeRound(Number(process.argv[at + 1]))));
  else await main();
}
