// npm run bench:edge — the edge runtime's figures (issue 6):
//   sandbox_overhead_us   time the sandbox adds per 1 KB input over calling the service directly
//   rss_idle_mb           resident memory of the bundled runtime with a service loaded, idle
//   rss_loaded_mb         the same while processing flat out
// for both isolation modes. Rounds are interleaved so load from other processes hits all alike.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { compileService, createExecutor, Isolation, ServiceSandbox } from "@surplus/edge";
import { type ResultRow, report } from "./report.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const say = (s: string) => process.stderr.write(`[bench:edge] ${s}\n`);

say("building services and the bundle…");
execFileSync("npm", ["run", "--silent", "build", "-w", "@surplus/edge"], { cwd: root, stdio: "inherit" });

const echo = readFileSync(join(root, "edge/build/echo.wasm"));
const inputs = Array.from({ length: 64 }, (_, i) => new Uint8Array(1024).fill(i));
const ROUNDS = 200;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

say(`sandbox overhead: ${ROUNDS} interleaved rounds of ${inputs.length} × 1 KB inputs…`);
const direct = createExecutor(compileService(echo), 1024);
const sandboxes = {
  inline: ServiceSandbox.load(echo, { isolation: Isolation.Inline }),
  worker: ServiceSandbox.load(echo, { isolation: Isolation.Worker }),
};
const perInputUs: Record<"direct" | "inline" | "worker", number[]> = { direct: [], inline: [], worker: [] };
for (let round = 0; round < ROUNDS; round++) {
  let t = performance.now();
  direct.runBatch(inputs);
  perInputUs.direct.push(((performance.now() - t) * 1000) / inputs.length);
  for (const mode of ["inline", "worker"] as const) {
    t = performance.now();
    await sandboxes[mode].process(inputs);
    perInputUs[mode].push(((performance.now() - t) * 1000) / inputs.length);
  }
  if ((round + 1) % 50 === 0) say(`  ${round + 1}/${ROUNDS}`);
}
await sandboxes.inline.close();
await sandboxes.worker.close();

function rss(isolation: Isolation) {
  say(`resident memory of the bundled runtime (${isolation} isolation)…`);
  const out = execFileSync(
    process.execPath,
    [
      join(root, "edge/dist/surplus-edge.mjs"),
      "calibrate",
      join(root, "edge/build/echo.wasm"),
      "--json",
      "--seconds",
      "3",
      "--isolation",
      isolation,
    ],
    { encoding: "utf8" },
  );
  return JSON.parse(out) as { inputsPerSecond: number; rssIdleMb: number; rssLoadedMb: number };
}
const mem = { inline: rss(Isolation.Inline), worker: rss(Isolation.Worker) };

const us = (x: number) => Math.round(x * 100) / 100;
const rows: ResultRow[] = [
  {
    name: "sandbox_overhead_us",
    value: us(median(perInputUs.inline) - median(perInputUs.direct)),
    unit: "µs/input",
    note: "inline isolation (default), median",
  },
  {
    name: "sandbox_overhead_us_worker",
    value: us(median(perInputUs.worker) - median(perInputUs.direct)),
    unit: "µs/input",
    note: "worker isolation, median",
  },
  {
    name: "direct_call_us",
    value: us(median(perInputUs.direct)),
    unit: "µs/input",
    note: "echo called directly, for reference",
  },
  {
    name: "rss_idle_mb",
    value: mem.inline.rssIdleMb,
    unit: "MB",
    target: "<= 80",
    note: "bundled runtime, service loaded, inline",
  },
  {
    name: "rss_loaded_mb",
    value: mem.inline.rssLoadedMb,
    unit: "MB",
    note: `processing ${mem.inline.inputsPerSecond.toLocaleString("en-US")} inputs/s, inline`,
  },
  {
    name: "rss_idle_mb_worker",
    value: mem.worker.rssIdleMb,
    unit: "MB",
    target: "<= 80",
    note: "worker isolation",
  },
  {
    name: "rss_loaded_mb_worker",
    value: mem.worker.rssLoadedMb,
    unit: "MB",
    note: `processing ${mem.worker.inputsPerSecond.toLocaleString("en-US")} inputs/s, worker`,
  },
];
report("edge", rows, { node: process.version, inputBytes: 1024, batch: inputs.length, rounds: ROUNDS });
