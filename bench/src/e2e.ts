// npm run bench:e2e — the protocol's stage latencies on the local market with 10 Suppliers and
// 10 Customers (two of the Suppliers skip inputs, so some allocations go to mediation), on the real
// services: Pulsar, DynamoDB (moto), a Hardhat node; the Allocator's offer round every second. Writes bench/results/e2e.json.
//
//   offer → allocation delivered   Customer posts its offer → the signed allocation reaches its agent
//   accepted → Running             last party's Accept published → first agent sees Running on-chain
//   end of stream → Closed         the allocation's end (a_end) → its Customer sees it Closed
//   mediation                      MediationRequested seen by the Mediator → its mediate tx mined
//
// Options: --seconds N (each Customer's service time, default 20).
import { loadavg } from "node:os";
import { parseArgs } from "node:util";
import { startChain } from "@surplus/localstack/chain";
import { startLocalDynamoDb } from "@surplus/localstack/dynamodb";
import { LocalMarket, type MarketScenario } from "@surplus/localstack/market";
import { startPulsar, stopPulsar } from "@surplus/localstack/pulsar";
import { report } from "./report.ts";

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: { seconds: { type: "string", default: "20" } },
});
const SECONDS = Number(args.seconds);
const log = (l: string) => process.stderr.write(`[bench:e2e] ${l}\n`);

const scenario: MarketScenario = {
  suppliers: Array.from({ length: 10 }, (_, i) => ({
    name: `supplier ${i}`,
    capacityMips: 2200,
    // The two cheapest cheat (so they are surely allocated): they skip 70 % of their inputs.
    ...(i < 2 ? { strategy: { processProbability: 0.3, cheatMode: "skip" as const, seed: i } } : {}),
  })),
  customers: Array.from({ length: 10 }, (_, i) => ({
    name: `customer ${i}`,
    service: i % 2 === 0 ? ("people-counter" as const) : ("bus-energy" as const),
    inputsPerSecond: i % 2 === 0 ? 20 : 10,
    replicas: 1 + (i % 3),
    seconds: SECONDS,
  })),
  // The demo's windows; the reveal window bounds how long a Customer waits for results (⅓ of it).
  parameters: { signingWindow: 60n, revealWindow: 60n, mediationWindow: 60n },
};

const load0 = loadavg()[0]!;
const pulsar = await startPulsar({ log });
const dynamo = await startLocalDynamoDb({ log });
const chain = await startChain({ log });
const stops = async () => {
  await dynamo.stop().catch(() => undefined);
  await chain.stop().catch(() => undefined);
  if (pulsar.startedHere) await stopPulsar().catch(() => undefined);
};

let market: LocalMarket | undefined;
try {
  log(`10 Suppliers (2 cheat), 10 Customers, ${SECONDS} s services…`);
  market = await LocalMarket.start(
    { pulsar, dynamodbEndpoint: dynamo.endpoint, chainRpcUrl: chain.rpcUrl },
    scenario,
    {
      onEvent: (e) => {
        if (e.event === "allocation.closed" && e.who.startsWith("customer"))
          log(`${e.who}: allocation closed`);
      },
    },
  );
  const m = market;
  const cleared = await m.settled((SECONDS + 240) * 1000);
  if (!cleared) log("not every allocation closed in time: figures cover those that did");

  const at = (event: string, id: string, who?: string) =>
    m.events
      .filter((e) => e.event === event && e.fields.allocation === id && (!who || e.who === who))
      .map((e) => e.at);
  const offerToAllocation: number[] = [];
  const acceptToRunning: number[] = [];
  const endToClosed: number[] = [];
  const mediation: number[] = [];
  let allocations = 0;
  for (const c of m.customers) {
    const offered = m.events.find((e) => e.event === "offer.posted" && e.who === c.p.name)?.at;
    for (const d of c.agent.allocations.values()) {
      allocations++;
      const received = at("allocation.delivered", d.id, c.p.name)[0];
      if (offered && received) offerToAllocation.push(received - offered);
      const accepted = at("allocation.accepted", d.id);
      const running = [...at("allocation.running", d.id), ...at("allocation.streaming", d.id)];
      if (accepted.length && running.length)
        acceptToRunning.push(Math.min(...running) - Math.max(...accepted));
      const closed = at("allocation.closed", d.id, c.p.name)[0];
      if (closed) endToClosed.push(closed - d.allocation.end * 1000);
      const requested = at("allocation.mediating", d.id)[0];
      const mediated = m.events.find(
        (e) => e.event === "tx" && e.fields.call === "mediate" && e.fields.allocation === d.id,
      )?.at;
      if (requested && mediated) mediation.push(mediated - requested);
    }
  }
  const pct = (xs: number[], p: number) => {
    if (!xs.length) return -1;
    const s = [...xs].sort((a, b) => a - b);
    return Math.round(s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!);
  };
  const n = (xs: number[]) => `${xs.length} allocations`;
  /** A row with its target only when there was something to measure. */
  const row = (name: string, xs: number[], value: number, target: string | undefined, note: string) =>
    xs.length
      ? { name, value, unit: "ms", ...(target ? { target } : {}), note }
      : { name, value: -1, unit: "ms", note: `no sample (${note})` };
  report(
    "e2e",
    [
      row(
        "offer_to_allocation_p50_ms",
        offerToAllocation,
        pct(offerToAllocation, 50),
        "<= 1500",
        `Customer offer → signed allocation received, ${n(offerToAllocation)}; 1 s auction interval`,
      ),
      row(
        "offer_to_allocation_p99_ms",
        offerToAllocation,
        pct(offerToAllocation, 99),
        undefined,
        "same, p99",
      ),
      row(
        "accept_to_running_ms",
        acceptToRunning,
        pct(acceptToRunning, 50),
        "<= 2000",
        `last Accept → Running seen by an agent, median of ${n(acceptToRunning)}`,
      ),
      row("accept_to_running_p99_ms", acceptToRunning, pct(acceptToRunning, 99), undefined, "same, p99"),
      row(
        "end_to_closed_ms",
        endToClosed,
        pct(endToClosed, 50),
        undefined,
        `a_end → Closed seen by the Customer, median of ${n(endToClosed)} (includes the Customer's wait for results)`,
      ),
      row(
        "mediation_ms",
        mediation,
        pct(mediation, 50),
        "<= 10000",
        `MediationRequested → mediated, median of ${n(mediation)}`,
      ),
      row("mediation_max_ms", mediation, Math.round(Math.max(-1, ...mediation)), undefined, "same, worst"),
    ],
    {
      suppliers: 10,
      customers: 10,
      cheaters: 2,
      serviceSeconds: SECONDS,
      allocations,
      cleared,
      cores: (await import("node:os")).cpus().length,
      loadAverage1mBefore: load0,
      loadAverage1mAfter: loadavg()[0],
    },
  );
  const sum = (await m.balanceChanges()).reduce((s, b) => s + b.change, 0n);
  log(`Σ balance changes = ${sum}`);
  if (sum !== 0n) process.exitCode = 1;
} finally {
  await market?.stop();
  await stops();
}
