// `npm run experiment -- strategies [--seed N] [--out DIR] [--quick]`
//
// Runs the strategy experiments of paper §5.2 (Fig. 5 and Fig. 6, on Table 6 and without gas),
// checks the paper's claims, and writes CSVs, SVG figures and report.md. Only the documented
// full run (seed 1, not --quick) writes the committed experiments/results/; any other run writes
// to .data/experiments/<seed>[-quick]/ (or --out) and says where, so a smoke run never
// overwrites the report the README shows.
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { claimTable, writeResults } from "./report.ts";
import { FIG5, FIG6 } from "./simulate.ts";
import { runStrategies } from "./strategies.ts";

const here = dirname(fileURLToPath(import.meta.url));
const usage = "usage: npm run experiment -- strategies [--seed N] [--out DIR] [--quick]";

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      seed: { type: "string", default: "1" },
      out: { type: "string" },
      quick: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    return 0;
  }
  if (positionals[0] !== "strategies" || positionals.length > 1) {
    console.error(usage);
    return 2;
  }
  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    console.error(`--seed must be an integer in [0, 2^32), got ${values.seed}`);
    return 2;
  }
  const committed = seed === 1 && !values.quick;
  const out =
    values.out ??
    (committed
      ? join(here, "..", "results")
      : join(here, "../../.data/experiments", `seed-${seed}${values.quick ? "-quick" : ""}`));
  const options = values.quick
    ? {
        fig5: { ...FIG5, suppliers: 14, customers: 14, rounds: 20, frontRunners: 2 },
        fig6: { ...FIG6, jobs: 50 },
        propertyRuns: 200,
      }
    : {};
  const started = performance.now();
  const log = (line: string) =>
    console.log(`[strategies ${((performance.now() - started) / 1000).toFixed(1)} s] ${line}`);
  log(`seed ${seed}: Fig. 5 and Fig. 6 on Table 6 and without gas${values.quick ? " (quick)" : ""}`);
  const result = runStrategies(seed, options, log);
  const command = `npm run experiment -- strategies --seed ${seed}${values.quick ? " --quick" : ""}`;
  const paths = await writeResults(result, out, command);
  log(`wrote ${paths.map((p) => relative(process.cwd(), p)).join(", ")}`);
  console.log(`\n${claimTable(result)}\n`);
  if (values.quick)
    console.log("A --quick run is a smoke test of the code: its verdicts are not evidence for the claims.");
  if (!committed && !values.out)
    console.log(
      `Results in ${relative(process.cwd(), out)} (experiments/results/ holds the documented run, seed 1).`,
    );
  return 0;
}

process.exitCode = await main(process.argv.slice(2));
