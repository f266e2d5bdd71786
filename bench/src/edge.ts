// npm run bench:edge — the edge runtime's figures (issue 6):
//   sandbox_overhead_us   time the sandbox adds per 1 KB input over calling the service directly
//   rss_idle_mb           resident memory of the bundled runtime (`surplus-edge calibrate`, a process of
//                         its own, with the modules `run` loads) with a service loaded, idle: sampled
//                         after 15 s, once V8's memory reducer ran as it does for any idling daemon
//   rss_startup_mb        the same 0.5 s after the service loaded, for reference
//   rss_loaded_mb         the same while processing flat out
//   supplier_inputs_per_s a Supplier job (echo service, 1 KB inputs) draining its input channel on the
//                         local broker: consume → sandbox → publish each output (broker-acked) →
//                         record it in the OutputLedger → ack; with the CPU the job's process used per
//                         input, and how much of it recording (keccak256 of each output) took
//   raw_pulsar_msgs_per_s the channel layer alone in the same run: one producer → one acking consumer
// for both isolation modes. Rounds are interleaved so load from other processes hits all alike.
// SURPLUS_BENCH_EDGE_INPUTS sets how many inputs go through the broker (default 20000).
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { cpus, loadavg } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  mintParticipantToken,
  PulsarAdmin,
  provisionAllocationChannels,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import type { Address, Bytes32 } from "@surplus/core";
import {
  compileService,
  createExecutor,
  Isolation,
  inputPublisher,
  OutputLedger,
  outputPublisher,
  ServiceSandbox,
  SupplierJob,
  subscribeInputs,
} from "@surplus/edge";
import { startPulsar, stopPulsar } from "@surplus/localstack/pulsar";
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
  say(`resident memory of the bundled runtime (${isolation} isolation; idle 15 s, then 3 s loaded)…`);
  const out = execFileSync(
    process.execPath,
    [
      join(root, "edge/dist/surplus-edge.mjs"),
      "calibrate",
      join(root, "edge/build/echo.wasm"),
      "--json",
      "--seconds",
      "3",
      "--idle-seconds",
      "15",
      "--isolation",
      isolation,
    ],
    { encoding: "utf8" },
  );
  return JSON.parse(out) as {
    inputsPerSecond: number;
    rssStartupMb: number;
    rssIdleMb: number;
    rssLoadedMb: number;
    settings: Record<string, string | null>;
  };
}
const mem = { inline: rss(Isolation.Inline), worker: rss(Isolation.Worker) };

// ---- through the local broker
const N = Number(process.env.SURPLUS_BENCH_EDGE_INPUTS ?? 20_000);
const broker = await startPulsar({ log: say });
const admin = new PulsarAdmin({ url: broker.webUrl, token: broker.adminToken });
const secret = new Uint8Array(Buffer.from(broker.tokenSecret, "base64"));
const customer = "0x00000000000000000000000000000000000000c1" as Address;
const supplier = "0x00000000000000000000000000000000000000a1" as Address;
const ch = await provisionAllocationChannels(admin, {
  allocationId: `bench-${Date.now().toString(36)}`,
  customer,
  suppliers: [supplier],
  mediator: "0x00000000000000000000000000000000000000d1",
  allocator: "0x00000000000000000000000000000000000000e1",
});
const customerBus = new WebSocketMessageBus({
  url: broker.webUrl,
  token: await mintParticipantToken(secret, customer),
});
const supplierBus = new WebSocketMessageBus({
  url: broker.webUrl,
  token: await mintParticipantToken(secret, supplier),
});
const kb = new Uint8Array(1024).fill(7);

say(`raw channel layer: ${N} × 1 KB, one producer → one acking consumer…`);
const rawTopic = ch.checklist; // a private topic the Customer produces to and the Supplier consumes
const rawConsumer = await supplierBus.subscribe(rawTopic, "bench-raw", {
  initialPosition: "Latest",
  receiverQueueSize: 2000,
});
const rawProducer = await customerBus.createProducer(rawTopic, { maxPendingMessages: 1000 });
let t0 = performance.now();
const consumed = (async () => {
  for (let i = 0; i < N; i++) void rawConsumer.ack(await rawConsumer.receive(30_000));
})();
for (let i = 0; i < N; i++) void rawProducer.send({ payload: kb });
await rawProducer.flush();
await consumed;
const rawPerSecond = N / ((performance.now() - t0) / 1000);
await rawProducer.close();
await rawConsumer.close();

say(`Supplier: pre-filling its input channel with ${N} × 1 KB inputs…`);
const feeder = await inputPublisher(customerBus, ch.input, "bench-input");
for (let i = 0; i < N; i += 1000) {
  await feeder.publish(
    Array.from({ length: Math.min(1000, N - i) }, (_, k) => ({
      seq: BigInt(i + k),
      eventTimeMs: Date.now(),
      payload: kb,
    })),
  );
}
await feeder.close();
say("Supplier: draining it through the echo service…");
/** The job's ledger, counting the CPU time of `record` (which hashes every output) on this thread. */
class TimedLedger extends OutputLedger {
  recordCpuUs = 0;
  override record(outputs: Parameters<OutputLedger["record"]>[0]) {
    const before = process.threadCpuUsage();
    try {
      return super.record(outputs);
    } finally {
      const used = process.threadCpuUsage(before);
      this.recordCpuUs += used.user + used.system;
    }
  }
}
const ledger = new TimedLedger();
const sandbox = ServiceSandbox.load(echo);
const job = new SupplierJob({
  allocationId: `0x${"be".repeat(32)}` as Bytes32,
  supplier,
  sandbox,
  ledger,
  input: await subscribeInputs(supplierBus, ch.input, "bench-supplier"),
  output: await outputPublisher(supplierBus, ch.outputs[supplier]!, "bench-output", 0n),
  endSeq: BigInt(N),
  batchSize: 500,
});
t0 = performance.now();
const cpu0 = process.cpuUsage();
while (!job.done) await job.step(5_000);
const supplierPerSecond = N / ((performance.now() - t0) / 1000);
const supplierCpu = process.cpuUsage(cpu0);
const supplierCpuUs = (supplierCpu.user + supplierCpu.system) / N;
await sandbox.close();
await customerBus.close();
await supplierBus.close();
if (broker.startedHere && !process.env.SURPLUS_PULSAR_KEEP) await stopPulsar();

const us = (x: number) => Math.round(x * 100) / 100;
const rows: ResultRow[] = [
  {
    name: "supplier_inputs_per_s",
    value: Math.round(supplierPerSecond),
    unit: "inputs/s",
    target: ">= 5000",
    note: "echo, 1 KB, end to end over the local broker",
  },
  {
    name: "supplier_cpu_us_per_input",
    value: us(supplierCpuUs),
    unit: "µs/input",
    note: "CPU of the Supplier's process per input (all of it: channel layer, sandbox, ledger)",
  },
  {
    name: "supplier_ledger_record_us_per_input",
    value: us(ledger.recordCpuUs / N),
    unit: "µs/input",
    note: "of which OutputLedger.record: keccak256 of each 1 KB output (CPU)",
  },
  {
    name: "raw_pulsar_msgs_per_s",
    value: Math.round(rawPerSecond),
    unit: "msg/s",
    note: "channel layer alone, same run, 1 KB",
  },
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
    note: `bundled runtime, service loaded, inline, idle 15 s (${Object.entries(mem.inline.settings)
      .map(([k, v]) => `${k}=${v ?? "unset"}`)
      .join(" ")})`,
  },
  {
    name: "rss_startup_mb",
    value: mem.inline.rssStartupMb,
    unit: "MB",
    note: "the same 0.5 s after the service loaded (before V8's memory reducer), inline",
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
    note: "worker isolation, idle 15 s",
  },
  {
    name: "rss_startup_mb_worker",
    value: mem.worker.rssStartupMb,
    unit: "MB",
    note: "worker isolation, 0.5 s after the service loaded",
  },
  {
    name: "rss_loaded_mb_worker",
    value: mem.worker.rssLoadedMb,
    unit: "MB",
    note: `processing ${mem.worker.inputsPerSecond.toLocaleString("en-US")} inputs/s, worker`,
  },
];
report("edge", rows, {
  node: process.version,
  inputBytes: 1024,
  batch: inputs.length,
  rounds: ROUNDS,
  brokerInputs: N,
  loadAverage1m: Math.round(loadavg()[0]! * 100) / 100,
  cores: cpus().length,
});
