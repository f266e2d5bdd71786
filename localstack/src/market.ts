// ./surplus market — the whole protocol end to end on this machine, on the real services:
// Apache Pulsar, DynamoDB (moto) and a Hardhat node with the market contract. The Allocator and the
// verifier-bridge run their use cases (the Lambda handlers' code) under a one-second local
// scheduler; Customers, Suppliers and the Mediator run the edge agents (what `surplus-edge run`
// runs) and talk to each other only through Pulsar and the chain. Prints live progress and ends
// with a summary (also written to .data/market/report.md).
//
//   --keep-up     leave the stack running afterwards and print how to attach an edge runtime
//   --seconds N   how long each Customer's service should run (default 40)
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Bytes32 } from "@surplus/core";
import { startChain } from "./chain.ts";
import { startConsole } from "./console/server.ts";
import { startLocalDynamoDb } from "./dynamodb.ts";
import { LocalMarket, type MarketLogEntry, type MarketScenario } from "./market/harness.ts";
import { say, short } from "./market/log.ts";
import { startPulsar, stopPulsar } from "./pulsar/index.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const { values: args } = parseArgs({
  // `./surplus market -- --seconds 30` forwards the `--` too: drop it.
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: { "keep-up": { type: "boolean", default: false }, seconds: { type: "string", default: "40" } },
});
const SECONDS = Number(args.seconds);
if (!Number.isInteger(SECONDS) || SECONDS < 10 || SECONDS > 3600) {
  console.error(`--seconds must be a whole number from 10 to 3600, not ${args.seconds}`);
  process.exit(2);
}

/**
 * Three Suppliers (the third skips 70 % of its inputs: with n ≥ 6 hidden tests it passes them all
 * with probability 0.3^6 < 0.1 %), two Customers, one Mediator.
 */
const SCENARIO: MarketScenario = {
  suppliers: [
    { name: "supplier A" },
    { name: "supplier B" },
    { name: "supplier C", strategy: { processProbability: 0.3, cheatMode: "skip", seed: 7 } },
  ],
  customers: [
    { name: "customer ppl", service: "people-counter", inputsPerSecond: 20, replicas: 2, seconds: SECONDS },
    { name: "customer bus", service: "bus-energy", inputsPerSecond: 10, replicas: 1, seconds: SECONDS },
  ],
};
const CHEATER = "supplier C";

// The console (issue 17) is up before anything else, so its URL is on the first screen; it shows
// the market as soon as it runs.
const live: { market?: LocalMarket } = {};
const marketConsole = await startConsole(() => live.market);

console.log(`
  Surplus — a decentralized market for stream-processing compute, running locally.

  What you are looking at: three Suppliers offer spare CPU, two Customers (a people counter on
  camera frames at 20 frames/s, and a bus-energy estimator on telemetry) buy it. The Allocator
  matches offers every second; each party accepts by signing; the allocation is opened in the
  market contract, which locks deposits. Suppliers run the Customer's WebAssembly service on the
  live stream (Pulsar); the Customer committed to secret test positions of that stream and
  computes their outputs itself as they pass. At the end it settles: the contract checks each
  Supplier's sealed result against the Customer's revealed checklist. One Supplier cheats
  (skips 70% of its inputs): watch it get disputed, mediated and fined.

  Open the market console in a browser — offers with their status and reason, allocations and
  their states, reputations, balances and plots, live:  ${marketConsole.url}
`);

// ---------------------------------------------------------------- the stack
// A reader that went away (`./surplus market | head`, a closed terminal) must not abort the
// cleanup: writes to a closed pipe fail with EPIPE, asynchronously, as an 'error' event.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code !== "EPIPE") throw error;
  });
}
const stops: Array<() => Promise<void>> = [];
let market: LocalMarket | undefined;
let starting: Promise<LocalMarket> | undefined;
let stopping: Promise<void> | undefined;
/** Participants and operator loops first, then the services they use, in reverse start order. */
const stopAll = (): Promise<void> => {
  stopping ??= (async () => {
    const m = market ?? (await starting?.catch(() => undefined));
    await m?.stop().catch(() => undefined);
    await marketConsole.close().catch(() => undefined);
    for (const stop of stops.reverse()) await stop().catch(() => undefined);
  })();
  return stopping;
};
const exitAfterStop = (code: number) => void stopAll().then(() => process.exit(code));
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
  process.on(signal, () => {
    if (stopping) return say("market", "still stopping (it ends every process this run started)…");
    say("market", `${signal === "SIGINT" ? "interrupted" : signal}: stopping everything this run started…`);
    exitAfterStop(signal === "SIGINT" ? 130 : 143);
  });
}
// A failure anywhere still stops every process this run started (agents and loops first).
const fail = (error: unknown) => {
  if (stopping) return;
  say("market", `failed: ${(error as Error)?.stack ?? error}`);
  exitAfterStop(1);
};
process.on("uncaughtException", fail);
process.on("unhandledRejection", fail);

const pulsar = await startPulsar({ log: (l) => say("market", `pulsar: ${l}`) });
if (pulsar.startedHere) stops.push(async () => void (await stopPulsar()));
const dynamo = await startLocalDynamoDb({ log: (l) => say("market", `dynamodb: ${l}`) });
stops.push(() => dynamo.stop());
const chain = await startChain({ log: (l) => say("market", `chain: ${l}`) });
stops.push(() => chain.stop());

// ---------------------------------------------------------------- narration
const CLOSE_REASONS = ["settled", "mediated", "mediator timeout", "reveal timeout", "signing failed"];
const offerPostedAt = new Map<string, number>();
/** The fields of the events narrated below (see the agents' and the harness's log calls). */
interface Fields {
  allocation: string;
  allocationId: string;
  suppliers: string[];
  supplier: string;
  market: string;
  token: string;
  participants: number;
  each: string;
  capacityMips: number;
  ramMb: number;
  minPricePerMi: string;
  maxPricePerMi: string;
  pricePerMi: string;
  replicas: number;
  serviceName: string;
  service: string;
  inputsPerSecond: number;
  miPerInput: number;
  recorded: number;
  allocations: number;
  voids: number;
  rejected: number;
  testCount: number;
  tests: number;
  call: string;
  gas: string;
  error: string;
  reason: string;
  processed: number;
  skipped: number;
  failed: number;
  total: string;
  delivered: number;
  seal: string;
  rightTests: number;
  disputed: boolean;
  lazyMask: number;
  account: string;
}
const said = (who: string, text: string): [string, string] => [who, text];

function narrate(m: LocalMarket | undefined, e: MarketLogEntry): [string, string] | undefined {
  const f = e.fields as unknown as Fields;
  const kind = e.who.split(" ")[0]!;
  switch (e.event) {
    case "market.deployed":
      return said("chain", `market contract at ${f.market}, token ${f.token}`);
    case "participants.funded":
      return said("market", `${f.participants} participants funded (each deposited ${f.each} token units)`);
    case "offer.posted":
      offerPostedAt.set(e.who, e.at);
      if (kind === "supplier")
        return said(
          e.who,
          `offers ${f.capacityMips} MIPS, ${f.ramMb} MB for an hour at ≥ ${f.minPricePerMi} per MI${e.who === CHEATER ? "  (this one will cheat)" : ""}`,
        );
      return said(
        e.who,
        `wants ${f.replicas} replica(s) of ${f.serviceName} (${f.inputsPerSecond} inputs/s × ${f.miPerInput} MI) at ≤ ${f.maxPricePerMi} per MI`,
      );
    case "round":
      return said(
        "allocator",
        `round: ${f.recorded} offers recorded, ${f.allocations} allocations, ${f.voids} voids, ${f.rejected} rejected`,
      );
    case "allocation.received":
      if (kind !== "customer") return;
      return said(
        "allocator",
        `allocation ${short(f.allocation)}: ${f.suppliers.length} replica(s) for ${e.who} at ${f.pricePerMi} per MI, n = ${f.testCount} hidden tests (${e.at - (offerPostedAt.get(e.who) ?? e.at)} ms after the offer)`,
      );
    case "allocation.accepted":
      return said(e.who, `accepts ${short(f.allocation)}`);
    case "tx":
      if (f.call === "open")
        return said(
          "chain",
          `allocation ${short(f.allocation)} opened by the Allocator with every signature: deposits locked`,
        );
      return said("chain", `${e.who}: ${f.call} ${short(f.allocation)} (gas ${f.gas})`);
    case "tx.failed":
      return said(e.who, `${f.call} ${short(f.allocation)} failed: ${f.error}`);
    case "job.started":
      return said(e.who, `runs ${short(f.service)} (hash checked) on ${short(f.allocation)}'s input channel`);
    case "job.done":
      return said(
        e.who,
        `done with ${short(f.allocation)}: ${f.processed} processed, ${f.skipped} skipped, ${f.failed} failed`,
      );
    case "stream.started":
      return said(
        e.who,
        `streams ${f.total} inputs into ${short(f.allocation)}, ${f.tests} of them secret tests`,
      );
    case "stream.progress":
      return said(e.who, `${f.delivered}/${f.total} outputs delivered downstream for ${short(f.allocation)}`);
    case "stream.ended":
      return said(
        e.who,
        `stream over, ${f.delivered}/${f.total} outputs delivered; revealing the checklist (salt and test positions)`,
      );
    case "result.posted":
      return said(e.who, `posts its sealed result for ${short(f.allocation)}: seal ${short(f.seal)}`);
    case "replica.checked": {
      const s = m?.participants.find((p) => p.address === f.supplier)?.name ?? short(f.supplier);
      return said(
        e.who,
        `replica ${s} answered ${f.rightTests}/${f.tests} tests right on the live stream${f.disputed ? " — disputed" : ""}`,
      );
    }
    case "mediation.started":
      return said(
        "mediator",
        `mediating ${short(f.allocation)}: re-executing ${f.tests} test inputs from the retained input channel`,
      );
    case "mediation.done":
      return said(
        "mediator",
        `finding for ${short(f.allocation)}: lazy replicas mask ${Number(f.lazyMask).toString(2)}; the contract fines them`,
      );
    case "allocation.closed":
      if (kind !== "customer" || !m) return;
      void closeReason(m, f.allocation as Bytes32).then((r) =>
        say("chain", `allocation ${short(f.allocation)} closed (${r})`),
      );
      return;
    case "allocation.lapsed":
      if (e.who !== "allocator") return;
      return said("allocator", `allocation ${short(f.allocationId)} lapsed: ${f.reason}`);
    case "open.failed":
      return said("allocator", `could not open ${short(f.allocationId)}: ${f.error}`);
    case "invocation.failed":
    case "accept.rejected":
    case "step.failed":
    case "message.dropped":
    case "offer.refused":
      return said("allocator", `refused an offer of ${short(f.account)}: ${f.reason}`);
    case "allocation.refused":
      return said(e.who, `${e.event}: ${f.error ?? f.reason}`);
  }
}

async function closeReason(m: LocalMarket, id: Bytes32): Promise<string> {
  const reason = await m.closeReasonOf(id);
  return reason === undefined ? "?" : (CLOSE_REASONS[reason] ?? "?");
}

// ---------------------------------------------------------------- the market
starting = LocalMarket.start(
  { pulsar, dynamodbEndpoint: dynamo.endpoint, chainRpcUrl: chain.rpcUrl },
  SCENARIO,
  {
    onEvent: (e) => {
      const line = narrate(market, e);
      if (line) say(...line);
    },
  },
);
market = await starting;
live.market = market;
const m = market;
const cleared = await m.settled((SECONDS + 240) * 1000);
await new Promise((r) => setTimeout(r, 1_500)); // the bridge's last pass

// ---------------------------------------------------------------- summary
const lines: string[] = [
  "# Surplus local market — run report",
  "",
  `Run ${new Date().toISOString()}, market ${m.deployed.marketAddress}, ρ = 50.`,
  "",
  "## Participants (market balances, token base units)",
  "",
  "| participant | start | end | change |",
  "| --- | ---: | ---: | ---: |",
];
let sum = 0n;
for (const b of await m.balanceChanges()) {
  sum += b.change;
  lines.push(
    `| ${b.name}${b.name === CHEATER ? " (cheats)" : ""} | ${b.start} | ${b.end} | ${b.change >= 0n ? "+" : ""}${b.change} |`,
  );
}
lines.push("", `Σ changes = ${sum} (0: every token unit locked during the run went to a named party).`, "");
lines.push("## Allocations", "");
const first = (event: string, id: string, who?: (w: string) => boolean) =>
  m.events.find((e) => e.event === event && e.fields.allocation === id && (!who || who(e.who)))?.at;
const firstTx = (call: string, id: string) =>
  m.events.find((e) => e.event === "tx" && e.fields.call === call && e.fields.allocation === id)?.at;
const timelines: Array<Record<string, number | undefined>> = [];
for (const c of m.customers) {
  for (const d of c.agent.allocations.values()) {
    const a = d.allocation;
    const t = {
      offered: offerPostedAt.get(c.p.name),
      allocated: first("allocation.delivered", d.id, (w) => w === c.p.name),
      accepted: m.opened.get(d.id),
      running: Math.min(
        ...m.events
          .filter(
            (e) =>
              (e.event === "allocation.running" || e.event === "allocation.streaming") &&
              e.fields.allocation === d.id,
          )
          .map((e) => e.at),
      ),
      streamEnded: first("stream.ended", d.id),
      settled: firstTx("settle", d.id),
      mediationRequested: first("allocation.mediating", d.id),
      mediated: firstTx("mediate", d.id),
      closed: first("allocation.closed", d.id, (w) => w === c.p.name),
    };
    timelines.push(t);
    const mirrored = await m.bridgeRegistry.chainStateOf(d.id);
    const t0 = t.allocated ?? Date.now();
    const at = (k: keyof typeof t) =>
      t[k] && Number.isFinite(t[k]) ? `+${(((t[k] as number) - t0) / 1000).toFixed(1)} s` : "—";
    lines.push(
      `### ${d.id}`,
      "",
      `Customer ${c.p.name} (${a.customer}), Suppliers ${a.suppliers.map((s) => m.participants.find((p) => p.address === s)?.name ?? s).join(", ")}, n = ${a.testCount}, price ${a.pricePerMi} per MI.`,
      "",
      `States (bridge's mirror in DynamoDB): ${(mirrored?.history ?? []).map((h) => `${h.event}@block ${h.blockNumber}`).join(" → ")}`,
      "",
      `Timeline: allocated ${at("allocated")}, accepted ${at("accepted")}, running ${at("running")}, stream ended ${at("streamEnded")}, settled ${at("settled")}, mediated ${at("mediated")}, closed ${at("closed")}.`,
      "",
      "| call | by | gas |",
      "| --- | --- | ---: |",
      ...m.gas.filter((g) => g.allocation === d.id).map((g) => `| ${g.call} | ${g.by} | ${g.gas} |`),
      "",
    );
  }
}
const latency = (from: string, to: string) =>
  timelines
    .filter((t) => Number.isFinite(t[from]) && Number.isFinite(t[to]))
    .map((t) => (((t[to] as number) - (t[from] as number)) / 1000).toFixed(2));
lines.push(
  "## Stage latencies (s)",
  "",
  `- offer → allocation delivered: ${latency("offered", "allocated").join(", ") || "—"}`,
  `- accepted → Running: ${latency("accepted", "running").join(", ") || "—"}`,
  `- end of stream → Closed: ${latency("streamEnded", "closed").join(", ") || "—"}`,
  `- mediation requested → mediated: ${latency("mediationRequested", "mediated").join(", ") || "—"}`,
  "",
);
const report = lines.join("\n");
const reportDir = join(ROOT, ".data/market");
mkdirSync(reportDir, { recursive: true });
writeFileSync(join(reportDir, "report.md"), `${report}\n`);
console.log(`\n${report}\n\nwritten to .data/market/report.md`);

const allClosed =
  cleared &&
  m.customers.every((c) => [...c.agent.allocations.values()].every((d) => d.state.phase === "closed"));
if (args["keep-up"]) {
  // In this run's own folder: a second run must never pick up the first run's accounts or offers.
  const attach = await m.attachConfigs(join(m.dataDir, "attach"));
  console.log(`
The stack stays up, with the Allocator and the verifier-bridge running. Attach your own edge
runtime from another terminal — a funded Supplier and Customer are ready (keystore password
"${LocalMarket.KEYSTORE_PASSWORD}", local use only):
  SURPLUS_KEYSTORE_PASSWORD=${LocalMarket.KEYSTORE_PASSWORD} ./surplus node edge/bin/surplus-edge.ts run --config ${attach.supplier} --pretty
  SURPLUS_KEYSTORE_PASSWORD=${LocalMarket.KEYSTORE_PASSWORD} ./surplus node edge/bin/surplus-edge.ts run --config ${attach.customer} --pretty --exit-when-done
  Pulsar          ${pulsar.webUrl}   tenant ${m.layout.tenant}
  chain JSON-RPC  ${chain.rpcUrl}   market ${m.deployed.marketAddress}
  DynamoDB (moto) ${dynamo.endpoint}   tables ${m.prefix}*
  market console  ${marketConsole.url}
Stop with Ctrl-C (it stops everything this command started).`);
} else {
  await stopAll();
  process.exit(allClosed && sum === 0n ? 0 : 1);
}
