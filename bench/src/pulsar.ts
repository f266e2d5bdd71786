// npm run bench:pulsar — the Pulsar channel layer on the local broker, next to Pulsar's own
// pulsar-perf (Java client, binary protocol) on the same broker in the same run:
//
//   1. latency: one pair paced at 1,000 msg/s, publish → receive, both modes (see 2);
//                                                                          target p99 ≤ 25 ms
//   2. throughput: one WebSocket producer → one consumer (acking each message), 1 KB messages,
//      as fast as the producer's window of 1000 pending sends allows, for twice the phase length;
//      the receive rate of the steady second half is the figure, measured like pulsar-perf's
//      below (the broker's JIT warms up in the first half; the whole-run average is its own row).
//      Twice: with client-side batching (`batching: true`, batching.ts — the mode for high-rate
//      streams, as the native clients batch by default), the target row; and without it, one
//      broker entry per message, reported beside it;                     target ≥ 10,000 msg/s
//   3. pulsar-perf produce/consume on the same broker: unthrottled (outstanding ≤ 1000) with its
//      default batching and with batching off, and at 1,000 msg/s;
//   4. ratio = our throughput / pulsar-perf's, batched to batched and unbatched to unbatched.
// Prints a table and writes bench/results/pulsar.json. A missed target is reported as a miss.
// SURPLUS_BENCH_PULSAR_SECONDS sets the length of each phase (default 10).
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import {
  type Consumer,
  type MessageBus,
  type Producer,
  PulsarAdmin,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { findJava, JVM_FLAGS, resolveClasspath, startPulsar, stopPulsar } from "@surplus/localstack/pulsar";
import { type ResultRow, report } from "./report.ts";

const SECONDS = Number(process.env.SURPLUS_BENCH_PULSAR_SECONDS ?? 10);
const MESSAGE_BYTES = 1024;
const WINDOW = 1000;
const PACED_RATE = 1000;

const say = (line: string) => process.stderr.write(`[bench:pulsar] ${line}\n`);

function payload(): Uint8Array {
  const bytes = new Uint8Array(MESSAGE_BYTES);
  crypto.getRandomValues(bytes.subarray(8, 64));
  return bytes;
}

/** Stamps the send time (performance.now(), ms) into the first 8 bytes. */
function stamp(bytes: Uint8Array): Uint8Array {
  new DataView(bytes.buffer, bytes.byteOffset, 8).setFloat64(0, performance.now());
  return bytes;
}

function sentAt(bytes: Uint8Array): number {
  return new DataView(bytes.buffer, bytes.byteOffset, 8).getFloat64(0);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

async function pair(
  bus: MessageBus,
  admin: PulsarAdmin,
  label: string,
  batching = false,
): Promise<[Producer, Consumer]> {
  const topic = `persistent://public/default/bench-${label}-${Date.now().toString(36)}`;
  await admin.createTopic(topic);
  const consumer = await bus.subscribe(topic, "bench", {
    initialPosition: "Earliest",
    receiverQueueSize: 2000,
  });
  const producer = await bus.createProducer(topic, { maxPendingMessages: WINDOW, batching });
  return [producer, consumer];
}

/** Consumes (acking each) until `stop()` says so; records each message's publish→receive time. */
function drain(consumer: Consumer, latencies: number[] | undefined, onMessage: () => void) {
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      let m: Awaited<ReturnType<Consumer["receive"]>>;
      try {
        m = await consumer.receive(2_000);
      } catch {
        continue;
      }
      latencies?.push(performance.now() - sentAt(m.payload));
      void consumer.ack(m);
      onMessage();
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
    },
  };
}

/** CPU seconds the process has used so far (Linux /proc), for the broker's share; NaN elsewhere. */
function cpuSecondsOf(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime, in clock ticks of 10 ms
  } catch {
    return Number.NaN;
  }
}

async function wsThroughput(bus: MessageBus, admin: PulsarAdmin, brokerPid: number, batching: boolean) {
  const [producer, consumer] = await pair(bus, admin, batching ? "ws-tput-batched" : "ws-tput", batching);
  let sent = 0;
  let received = 0;
  let lastReceived = 0;
  const body = payload();
  const drainer = drain(consumer, undefined, () => {
    received++;
    lastReceived = performance.now();
  });
  const started = performance.now();
  const half = started + SECONDS * 1000;
  const end = started + 2 * SECONDS * 1000;
  // The steady second half: messages received and CPU used (ours and the broker's) in it.
  let atHalf: { t: number; received: number; cpu: NodeJS.CpuUsage; broker: number } | undefined;
  let atEnd: typeof atHalf;
  const mark = () => ({
    t: performance.now(),
    received,
    cpu: process.cpuUsage(),
    broker: cpuSecondsOf(brokerPid),
  });
  const halfTimer = setTimeout(() => {
    atHalf = mark();
  }, half - started);
  const endTimer = setTimeout(() => {
    atEnd = mark();
  }, end - started);
  const progress = setInterval(
    () => say(`  … ${sent.toLocaleString("en-US")} sent, ${received.toLocaleString("en-US")} received`),
    2_000,
  );
  // WINDOW concurrent senders keep exactly the window full.
  await Promise.all(
    Array.from({ length: WINDOW }, async () => {
      while (performance.now() < end) {
        await producer.send({ payload: stamp(body) });
        sent++;
      }
    }),
  );
  const publishSeconds = (performance.now() - started) / 1000;
  atEnd ??= mark();
  while (received < sent && performance.now() - lastReceived < 10_000)
    await new Promise((r) => setTimeout(r, 20));
  clearInterval(progress);
  clearTimeout(halfTimer);
  clearTimeout(endTimer);
  await drainer.stop();
  await producer.close();
  await consumer.close();
  const seconds = (lastReceived - started) / 1000;
  const from = atHalf ?? { t: started, received: 0, cpu: { user: 0, system: 0 }, broker: Number.NaN };
  const steady = atEnd.received - from.received;
  const clientCpuUs = atEnd.cpu.user + atEnd.cpu.system - from.cpu.user - from.cpu.system;
  return {
    sent,
    received,
    rate: (steady * 1000) / (atEnd.t - from.t),
    wholeRunRate: received / seconds,
    publishRate: sent / publishSeconds,
    clientCpuUsPerMessage: clientCpuUs / steady,
    brokerCpuUsPerMessage: ((atEnd.broker - from.broker) * 1e6) / steady,
  };
}

/** A few thousand messages through a separate pair first: JIT, connections and caches warm up. */
async function warmUp(bus: MessageBus, admin: PulsarAdmin): Promise<void> {
  const [producer, consumer] = await pair(bus, admin, "ws-warmup");
  const body = payload();
  let received = 0;
  const drainer = drain(consumer, undefined, () => {
    received++;
  });
  await Promise.all(Array.from({ length: 3000 }, () => producer.send({ payload: stamp(body) })));
  const deadline = performance.now() + 30_000;
  while (received < 3000 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await drainer.stop();
  await producer.close();
  await consumer.close();
}

async function wsLatency(bus: MessageBus, admin: PulsarAdmin, batching: boolean) {
  const [producer, consumer] = await pair(bus, admin, batching ? "ws-lat-batched" : "ws-lat", batching);
  const latencies: number[] = [];
  let received = 0;
  const drainer = drain(consumer, latencies, () => {
    received++;
  });
  const body = payload();
  const started = performance.now();
  let sent = 0;
  const total = PACED_RATE * SECONDS;
  const sends: Promise<unknown>[] = [];
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - started) * PACED_RATE) / 1000));
    while (sent < due) {
      sends.push(producer.send({ payload: stamp(body.slice()) }));
      sent++;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  await Promise.all(sends);
  const deadline = performance.now() + 10_000;
  while (received < sent && performance.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await drainer.stop();
  await producer.close();
  await consumer.close();
  // The first second warms up connections and JIT: leave it out.
  const measured = latencies
    .slice(Math.min(PACED_RATE, Math.floor(latencies.length / 10)))
    .sort((a, b) => a - b);
  return {
    sent,
    received,
    achievedRate: sent / ((performance.now() - started) / 1000),
    p50: percentile(measured, 50),
    p99: percentile(measured, 99),
    max: measured.at(-1) ?? Number.NaN,
  };
}

interface PerfRun {
  producedRate: number;
  consumedRate: number;
  received: number;
  /** Whole run (cold JVM included). */
  p50: number;
  p99: number;
  /** Second half of the run. */
  steadyP99: number;
}

/** pulsar-perf consume + produce on a fresh topic; `rate` 0 = unthrottled. */
async function pulsarPerf(
  java: string,
  classpath: string,
  confFile: string,
  admin: PulsarAdmin,
  rate: number,
  batching = false,
): Promise<PerfRun> {
  const topic = `persistent://public/default/bench-perf-${rate || "max"}${batching ? "-batched" : ""}-${Date.now().toString(36)}`;
  // A fresh JVM runs interpreted code for its first seconds: run twice as long and measure the
  // second half (our Node client is measured after a warm-up too).
  const perfSeconds = 2 * SECONDS;
  await admin.createTopic(topic);
  const run = (args: string[], onLine: (line: string) => void) => {
    let stop: () => void = () => {};
    const done = new Promise<void>((resolve, reject) => {
      const child = spawn(
        java,
        [
          "-Xms256m",
          "-Xmx512m",
          ...JVM_FLAGS,
          "-cp",
          classpath,
          "org.apache.pulsar.testclient.PulsarPerfTestTool",
          confFile,
          ...args,
        ],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      const kill = () => child.kill("SIGKILL");
      process.once("exit", kill);
      let stopping = false;
      // SIGTERM runs pulsar-perf's shutdown hook, which prints the aggregated figures.
      stop = () => {
        stopping = true;
        child.kill("SIGTERM");
      };
      let buffered = "";
      const tail: string[] = [];
      const onData = (chunk: Buffer) => {
        buffered += chunk.toString();
        const lines = buffered.split("\n");
        buffered = lines.pop() ?? "";
        for (const l of lines) {
          tail.push(l);
          if (tail.length > 20) tail.shift();
          onLine(l);
        }
      };
      child.stdout.on("data", onData);
      child.stderr.on("data", onData);
      child.on("error", reject);
      child.on("close", (code) => {
        process.off("exit", kill);
        if (code === 0 || stopping) resolve();
        else reject(new Error(`pulsar-perf ${args[0]} exited with ${code}:\n${tail.join("\n")}`));
      });
    });
    return { done, stop: () => stop() };
  };

  const intervalRates: number[] = [];
  const intervalP99: number[] = [];
  const intervalCounts: number[] = [];
  /** pulsar-perf's per-second line carries the running total of messages received. */
  const receivedSoFar = () => intervalCounts.at(-1) ?? 0;
  let consumed = 0;
  let p50 = Number.NaN;
  let p99 = Number.NaN;
  let producedRate = Number.NaN;
  let producedSeconds = Number.NaN;
  const consumer = run(
    ["consume", "-ss", "perf", "-sp", "Earliest", "-i", "1", "-time", String(3 * SECONDS + 120), topic],
    (line) => {
      const interval = /Throughput received:\s+([\d.]+) msg --- ([\d.]+)\s+msg\/s/.exec(line);
      if (interval) {
        intervalCounts.push(Number(interval[1]));
        intervalRates.push(Number(interval[2]));
        const p = /99pct:\s*([\d.]+)/.exec(line);
        intervalP99.push(p ? Number(p[1]) : Number.NaN);
      }
      const total = /Aggregated throughput stats --- (\d+) records received/.exec(line);
      if (total) consumed = Number(total[1]);
      const latency =
        /Aggregated latency stats --- Latency: mean:\s*[\d.]+ ms - med:\s*([\d.]+) - 95pct:\s*[\d.]+ - 99pct:\s*([\d.]+)/.exec(
          line,
        );
      if (latency) {
        p50 = Number(latency[1]);
        p99 = Number(latency[2]);
      }
    },
  );
  // Start producing once the consumer's subscription exists (a JVM starts slowly on a busy machine).
  const subscribedBy = Date.now() + 90_000;
  while (Date.now() < subscribedBy) {
    const stats = (await admin.topicStats(topic).catch(() => ({}))) as {
      subscriptions?: Record<string, unknown>;
    };
    if (stats.subscriptions?.perf) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  let produced = 0;
  await run(
    [
      "produce",
      "-r",
      String(rate || 10_000_000),
      "-o",
      String(WINDOW),
      "-s",
      String(MESSAGE_BYTES),
      ...(batching ? [] : ["-db"]),
      "-time",
      String(perfSeconds),
      topic,
    ],
    (line) => {
      const total = /Aggregated throughput stats --- (\d+) records sent --- ([\d.]+) msg\/s/.exec(line);
      if (total) {
        produced = Number(total[1]);
        producedRate = Number(total[2]);
        producedSeconds = produced / producedRate;
      }
    },
  ).done;
  // Let the consumer catch up, then stop it.
  const caughtUpBy = Date.now() + 20_000;
  let seen = 0;
  while (Date.now() < caughtUpBy) {
    seen = receivedSoFar();
    if (seen >= produced) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  consumer.stop();
  await consumer.done;
  // Receive rate while the producer ran: the busy one-second intervals, without the first and last.
  const busy = intervalRates.filter((r) => r > 0);
  const core = busy.length > 3 ? busy.slice(Math.floor(busy.length / 2), -1) : busy;
  const consumedRate = core.length
    ? core.reduce((a, b) => a + b, 0) / core.length
    : consumed / producedSeconds; // no interval lines: fall back to the aggregate
  // Latency of the steady second half: the worst per-second p99 among its busy seconds.
  const half = intervalRates
    .map((r, i) => [r, intervalP99[i] ?? Number.NaN] as const)
    .filter(([r]) => r > 0)
    .map(([, p]) => p);
  const steadyP99 = Math.max(...half.slice(Math.floor(half.length / 2), -1).filter(Number.isFinite));
  return {
    producedRate,
    consumedRate,
    received: consumed,
    p50,
    p99,
    steadyP99: Number.isFinite(steadyP99) ? steadyP99 : p99,
  };
}

async function main(): Promise<void> {
  const loadBefore = loadavg()[0] ?? 0;
  const local = await startPulsar({ log: say });
  const admin = new PulsarAdmin({ url: local.webUrl, token: local.adminToken });
  const bus = new WebSocketMessageBus({ url: local.webUrl, token: local.adminToken });
  try {
    say("warming up (3,000 messages)…");
    await warmUp(bus, admin);
    const tputOf = async (batching: boolean, step: string) => {
      say(
        `${step} WebSocket throughput, ${batching ? "batched" : "unbatched"}: one producer → one consumer, ${MESSAGE_BYTES} B, ${2 * SECONDS} s (steady second half measured)…`,
      );
      const t = await wsThroughput(bus, admin, local.pid, batching);
      say(
        `    ${Math.round(t.rate).toLocaleString("en-US")} msg/s received in the steady second half, ` +
          `${Math.round(t.wholeRunRate).toLocaleString("en-US")} msg/s over the whole run (${t.received} messages); ` +
          `CPU per message: client ${round2(t.clientCpuUsPerMessage)} µs, broker ${round2(t.brokerCpuUsPerMessage)} µs`,
      );
      return t;
    };
    const latOf = async (batching: boolean, step: string) => {
      say(
        `${step} WebSocket latency at ${PACED_RATE} msg/s, ${batching ? "batched" : "unbatched"}, ${SECONDS} s…`,
      );
      const l = await wsLatency(bus, admin, batching);
      say(`    p50 ${l.p50.toFixed(2)} ms, p99 ${l.p99.toFixed(2)} ms (${l.received}/${l.sent} received)`);
      return l;
    };
    // Latency first: right after a throughput phase the broker is still writing out its backlog.
    const lat = await latOf(true, "1a/4");
    const latPlain = await latOf(false, "1b/4");
    const tput = await tputOf(true, "2a/4");
    const tputPlain = await tputOf(false, "2b/4");

    const { java } = await findJava(21);
    const classpath = await resolveClasspath("perf", { dataDir: local.dataDir, log: say });
    const confFile = join(local.dataDir, "perf/client.conf");
    await mkdir(join(local.dataDir, "perf"), { recursive: true });
    await writeFile(
      confFile,
      [
        `webServiceUrl=${local.webUrl}/`,
        `brokerServiceUrl=${local.serviceUrl}/`,
        "authPlugin=org.apache.pulsar.client.impl.auth.AuthenticationToken",
        `authParams=token:${local.adminToken}`,
        "",
      ].join("\n"),
      { mode: 0o600 },
    );
    const perfOf = async (batching: boolean, step: string) => {
      say(
        `${step} pulsar-perf (Java client) unthrottled, outstanding ≤ ${WINDOW}, batching ${batching ? "on (its default)" : "off"}, ${2 * SECONDS} s…`,
      );
      const p = await pulsarPerf(java, classpath, confFile, admin, 0, batching);
      say(
        `    ${Math.round(p.consumedRate).toLocaleString("en-US")} msg/s received, ${Math.round(p.producedRate).toLocaleString("en-US")} msg/s published`,
      );
      return p;
    };
    const perfBatched = await perfOf(true, "3a/4");
    const perf = await perfOf(false, "3b/4");
    say(`4/4 pulsar-perf at ${PACED_RATE} msg/s, ${2 * SECONDS} s…`);
    const perfPaced = await pulsarPerf(java, classpath, confFile, admin, PACED_RATE);
    say(
      `    p99 ${perfPaced.steadyP99} ms in the steady second half (whole run p50 ${perfPaced.p50}, p99 ${perfPaced.p99} ms)`,
    );

    const rows: ResultRow[] = [
      {
        name: "ws_throughput_msgs",
        value: Math.round(tput.rate),
        unit: "msg/s",
        target: ">= 10000",
        note: "WebSocket client with client-side batching, 1 producer → 1 consumer, publish→receive, 1 KB, steady second half",
      },
      {
        name: "ws_unbatched_throughput_msgs",
        value: Math.round(tputPlain.rate),
        unit: "msg/s",
        note: "the same without batching: one broker entry (and WebSocket frame) per message",
      },
      {
        name: "ws_throughput_whole_run_msgs",
        value: Math.round(tput.wholeRunRate),
        unit: "msg/s",
        note: "the same run, first message to last (broker warm-up included)",
      },
      {
        name: "ws_client_cpu_us_per_msg",
        value: round2(tput.clientCpuUsPerMessage),
        unit: "µs",
        note: "this process (producer + consumer + acks), steady second half",
      },
      {
        name: "ws_broker_cpu_us_per_msg",
        value: round2(tput.brokerCpuUsPerMessage),
        unit: "µs",
        note: "the broker process (WebSocket proxy + broker + bookie), steady second half",
      },
      {
        name: "ws_publish_throughput_msgs",
        value: Math.round(tput.publishRate),
        unit: "msg/s",
        note: "acknowledged publishes, same run",
      },
      {
        name: "ws_latency_p50_ms",
        value: round2(lat.p50),
        unit: "ms",
        note: `at ${PACED_RATE} msg/s, publish→receive`,
      },
      {
        name: "ws_latency_p99_ms",
        value: round2(lat.p99),
        unit: "ms",
        target: "<= 25",
        note: `at ${PACED_RATE} msg/s, publish→receive, batched`,
      },
      {
        name: "ws_unbatched_latency_p99_ms",
        value: round2(latPlain.p99),
        unit: "ms",
        note: `at ${PACED_RATE} msg/s, publish→receive, unbatched`,
      },
      {
        name: "perf_throughput_msgs",
        value: Math.round(perfBatched.consumedRate),
        unit: "msg/s",
        note: "pulsar-perf (Java, binary protocol, default batching), same broker, received, steady second half",
      },
      {
        name: "perf_unbatched_throughput_msgs",
        value: Math.round(perf.consumedRate),
        unit: "msg/s",
        note: "pulsar-perf with batching off (-db)",
      },
      {
        name: "perf_publish_throughput_msgs",
        value: Math.round(perf.producedRate),
        unit: "msg/s",
        note: "pulsar-perf producer, aggregated",
      },
      {
        name: "perf_latency_p99_ms",
        value: perfPaced.steadyP99,
        unit: "ms",
        note: `pulsar-perf at ${PACED_RATE} msg/s, worst per-second p99 of the steady second half`,
      },
      {
        name: "ratio",
        value: round2(tput.rate / perfBatched.consumedRate),
        unit: "×",
        note: "ws_throughput_msgs / perf_throughput_msgs (both batched)",
      },
      {
        name: "unbatched_ratio",
        value: round2(tputPlain.rate / perf.consumedRate),
        unit: "×",
        note: "ws_unbatched_throughput_msgs / perf_unbatched_throughput_msgs",
      },
    ];
    // The run itself keeps both cores busy (broker, client, pulsar-perf), so the load after it says
    // nothing about other work; the load when it started does.
    const busy = loadBefore > cpus().length / 2;
    if (busy) {
      say(
        `note: the machine was busy (1-min load ${round2(loadBefore)} → ${round2(loadavg()[0] ?? 0)} on ${cpus().length} cores): ` +
          "broker, clients and pulsar-perf shared the CPU with other work, so these figures are lower bounds",
      );
    }
    report("pulsar", rows, {
      busyMachine: busy,
      pulsar: "4.0.7 standalone (pulsar-perf 4.0.8)",
      broker: local.webUrl,
      seconds: SECONDS,
      messageBytes: MESSAGE_BYTES,
      producerWindow: WINDOW,
      cores: cpus().length,
      loadAverage1mBefore: round2(loadBefore),
      loadAverage1mAfter: round2(loadavg()[0] ?? 0),
      ws: {
        batched: { throughput: tput, paced: lat },
        unbatched: { throughput: tputPlain, paced: latPlain },
      },
      perf: { unthrottled: perfBatched, unthrottledUnbatched: perf, paced: perfPaced },
    });
  } finally {
    await bus.close();
    if (local.startedHere && !process.env.SURPLUS_PULSAR_KEEP) await stopPulsar({ log: say });
  }
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

main().catch((error: Error) => {
  process.stderr.write(`[bench:pulsar] error: ${error.stack ?? error.message}\n`);
  process.exit(1);
});
