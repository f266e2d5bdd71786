// npm run bench:flood (./surplus bench flood) — the Allocator's memory under a flood of its public
// offers channel (issue 16, "Bounded memory").
//
// Starts the local services (Pulsar, DynamoDB on moto, a Hardhat node with the market contract),
// forks the Allocator (flood-allocator.ts: the offer round with the front door, in a loop, in a
// process of its own so that its RSS is its own) and floods the offers channel, with one admitted
// party's token (Mallory's), with --messages entries (default 20,000) in blocks of 1,000 of:
//   300 offers validly signed by 40 keys never admitted
//   100 forged: Mallory's signature under the honest Customer's name (an admitted, funded signer)
//   100 valid offers of Mallory (admitted, holding nothing) — open-offer cap and funds check
//   100 replays: the exact bytes of Mallory's offers of the same block again
//   150 stale: Mallory's offers stamped 23 h ahead
//   246 malformed (random bytes, cut JSON, an envelope of wrong types)
//     2 oversized (700 KB, about the largest the WebSocket producer sends)
//     2 entries that claim to be client-side batches (`surplus-batch` = 1) of ~90,000 empty
//       messages each (700 KB of 8-byte headers): an amplification attempt on the reader
// It samples the Allocator's RSS and heap after a warm-up (500 messages of the same mix, read),
// and when the rounds have read 1k, 5k, 10k, 20k of the flood; then posts an honest funded
// Supplier + Customer pair and waits for their allocation. Targets: peak RSS ≤ 1.5× the RSS after
// warm-up; the heap retained after a full collection grows by at most 32 MB from 1k to the end,
// and the RSS by at most 32 MB over the last half of the flood (state that grows with hostile
// input would grow with the messages); the honest pair matched,
// within 10 s, and nothing else allocated. Writes bench/results/flood.json.
//
// Options: --messages N (default 20000); --keep-services (leave the broker and the chain running);
// --max-batches N (the round's batches of 500 messages, AllocatorConfig.maxBatches; default the round's 20);
// --allocator-flags="…" (Node/V8 flags for the Allocator's process, e.g. --allocator-flags=--max-semi-space-size=2).
import { type ChildProcess, fork } from "node:child_process";
import { cpus, loadavg } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { createTables, dynamoDbClient, tableNames } from "@surplus/adapters/dynamodb";
import {
  mintParticipantToken,
  type Producer,
  PulsarAdmin,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { deployMarket } from "@surplus/contracts";
import {
  type Address,
  type Bytes32,
  type CustomerOffer,
  SCHEMA_VERSION,
  type SupplierOffer,
  signEnvelope,
  toWire,
} from "@surplus/core";
import { startChain } from "@surplus/localstack/chain";
import { startLocalDynamoDb } from "@surplus/localstack/dynamodb";
import { startPulsar, stopPulsar } from "@surplus/localstack/pulsar";
import { type Contract, NonceManager, parseEther, Wallet } from "ethers";
import type { FloodAllocatorInit, FloodRound, FloodSample } from "./flood-allocator.ts";
import { type ResultRow, report } from "./report.ts";

const { values: args } = parseArgs({
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: {
    messages: { type: "string", default: "20000" },
    "keep-services": { type: "boolean", default: false },
    "max-batches": { type: "string" },
    "allocator-flags": { type: "string", default: "" },
  },
});
const TOTAL = Number(args.messages);
const WARMUP = 500;
const STAGES = [1_000, 5_000, 10_000, 20_000].filter((s) => s < TOTAL).concat(TOTAL);
const OVERSIZED_BYTES = 700 * 1024;
const log = (l: string) => process.stderr.write(`[bench:flood] ${l}\n`);

const load0 = loadavg()[0]!;
const pulsar = await startPulsar({ log });
const dynamo = await startLocalDynamoDb({ log });
const chain = await startChain({ log });
let child: ChildProcess | undefined;
const stops = async () => {
  child?.kill();
  await dynamo.stop().catch(() => undefined);
  if (args["keep-services"]) return;
  await chain.stop().catch(() => undefined);
  if (pulsar.startedHere) await stopPulsar().catch(() => undefined);
};

const supplier = Wallet.createRandom();
const customer = Wallet.createRandom();
const mallory = Wallet.createRandom();
const strangers = Array.from({ length: 40 }, () => Wallet.createRandom());
// Funded like the honest pair: the Allocator chooses only a Mediator that can cover its bond.
const mediatorWallet = Wallet.createRandom();
const mediator = mediatorWallet.address as Address;
const allocator = Wallet.createRandom().address as Address;
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const topic = `persistent://public/default/flood-offers-${suffix}`;

/** The Allocator's reports, as they arrive. */
const rounds: Array<FloodRound & { at: number }> = [];
const samples: FloodSample[] = [];
let sampleWaiter: ((s: FloodSample) => void) | undefined;

function sample(): Promise<FloodSample> {
  return new Promise((resolve) => {
    sampleWaiter = resolve;
    child!.send({ type: "sample" });
  });
}

/** Waits until a round that began after `since` read nothing: the backlog is read. */
async function drained(since: number, timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (rounds.some((r) => r.at - r.ms > since && r.read === 0)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the Allocator did not read the backlog within ${timeoutMs / 1000} s`);
}

try {
  log("deploying the market and funding the honest pair…");
  const deployer = new NonceManager(chain.accounts[0]!);
  const m = await deployMarket(deployer, { treasury: await chain.accounts[1]!.getAddress() });
  for (const w of [supplier, customer, mediatorWallet]) {
    await (await deployer.sendTransaction({ to: w.address, value: parseEther("1") })).wait();
    const p = new NonceManager(w.connect(chain.provider));
    await (await (m.token.connect(p) as Contract).getFunction("mint")(w.address, 10n ** 24n)).wait();
    await (await (m.token.connect(p) as Contract).getFunction("approve")(m.marketAddress, 10n ** 24n)).wait();
    await (await (m.market.connect(p) as Contract).getFunction("deposit")(10n ** 24n)).wait();
  }
  const admin = new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken });
  await admin.createTopic(topic);
  for (const w of [supplier, customer, mallory])
    await admin.grantTopic(topic, w.address.toLowerCase(), ["produce"]);
  const prefix = `flood-${suffix}-`;
  await createTables(dynamoDbClient(dynamo.endpoint), tableNames(prefix));

  child = fork(join(import.meta.dirname, "flood-allocator.ts"), [], {
    execArgv: ["--expose-gc", ...args["allocator-flags"].split(" ").filter(Boolean)],
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  child.on("message", (msg: FloodRound | FloodSample | { type: "error"; message: string }) => {
    if (msg.type === "round") rounds.push({ ...msg, at: Date.now() });
    else if (msg.type === "sample") {
      samples.push(msg);
      sampleWaiter?.(msg);
    } else log(`allocator failed: ${msg.message}`);
  });
  const exited = new Promise<never>((_, reject) =>
    child!.once("exit", (code) => reject(new Error(`the Allocator process exited (${code})`))),
  );
  exited.catch(() => undefined);
  const init: FloodAllocatorInit = {
    type: "init",
    pulsarUrl: pulsar.webUrl,
    token: pulsar.adminToken,
    topic,
    dynamodbEndpoint: dynamo.endpoint,
    tablePrefix: prefix,
    rpcUrl: chain.rpcUrl,
    marketAddress: m.marketAddress as Address,
    chainId: String(m.domain.chainId),
    allocator,
    ...(args["max-batches"] ? { maxBatches: Number(args["max-batches"]) } : {}),
    admitted: [
      { account: supplier.address as Address, kind: "supplier" },
      { account: customer.address as Address, kind: "customer" },
      { account: mallory.address as Address, kind: "customer" },
    ],
  };
  child.send(init);

  // Offers whose window opens in two minutes; prices within the market's bounds.
  const start = Math.floor(Date.now() / 1000) + 120;
  const customerOffer = (account: Address, nonce: number): CustomerOffer => ({
    kind: "customer",
    schemaVersion: SCHEMA_VERSION,
    account,
    nonce: BigInt(nonce),
    serviceName: "people-counter",
    serviceHash: `0x${"ab".repeat(32)}` as Bytes32,
    miPerInput: 100,
    ramMb: 1_024,
    inputsPerSecond: 10,
    start,
    end: start + 3_600,
    maxPricePerMi: 200n,
    replicas: 1,
    minReplicas: 1,
    minServiceSeconds: 600,
    mediators: [mediator],
  });
  const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : toWire(v));
  const oversized = new Uint8Array(OVERSIZED_BYTES).fill(0x7b);
  const hostileBatch = (() => {
    const count = Math.floor((OVERSIZED_BYTES - 4) / 8);
    const bytes = new Uint8Array(4 + 8 * count); // every message: meta length 0, payload length 0
    new DataView(bytes.buffer).setUint32(0, count);
    return bytes;
  })();
  const kinds: Record<string, number> = {};

  /** The flood's message i (0-based, warm-up included) and what it is. */
  let blockMallory: Uint8Array[] = [];
  async function message(i: number): Promise<{ payload: Uint8Array; properties?: Record<string, string> }> {
    const j = i % 1_000;
    const now = Date.now();
    const kind = (k: string) => {
      kinds[k] = (kinds[k] ?? 0) + 1;
    };
    if (j === 0) blockMallory = [];
    if (j < 300) {
      kind("notAdmitted");
      const w = strangers[j % strangers.length]!;
      return {
        payload: enc(
          await signEnvelope(w, m.domain, "CustomerOffer", customerOffer(w.address as Address, i), now),
        ),
      };
    }
    if (j < 400) {
      kind("forged");
      // Mallory's signature over its own offer, sent under the honest Customer's name.
      const env = await signEnvelope(
        mallory,
        m.domain,
        "CustomerOffer",
        customerOffer(mallory.address as Address, i),
        now,
      );
      return {
        payload: enc({
          ...env,
          signer: customer.address,
          body: { ...(env.body as CustomerOffer), account: customer.address },
        }),
      };
    }
    if (j < 500) {
      kind("unfunded");
      const payload = enc(
        await signEnvelope(
          mallory,
          m.domain,
          "CustomerOffer",
          customerOffer(mallory.address as Address, i),
          now,
        ),
      );
      blockMallory.push(payload);
      return { payload };
    }
    if (j < 600) {
      kind("replayed");
      return { payload: blockMallory[j - 500] ?? blockMallory[0]! };
    }
    if (j < 750) {
      kind("stale");
      return {
        payload: enc(
          await signEnvelope(
            mallory,
            m.domain,
            "CustomerOffer",
            customerOffer(mallory.address as Address, i),
            now + 23 * 3_600_000,
          ),
        ),
      };
    }
    if (j < 996) {
      kind("malformed");
      if (j % 3 === 0) return { payload: crypto.getRandomValues(new Uint8Array(256)) };
      if (j % 3 === 1)
        return { payload: enc(`{"schemaVersion":1,"type":"CustomerOffer","body":{"kind":"cus`) };
      return {
        payload: enc(
          `{"schemaVersion":1,"type":"CustomerOffer","body":{"account":${i}},"signer":[],"signature":7,"sentAtMs":"x"}`,
        ),
      };
    }
    if (j < 998) {
      kind("oversized");
      return { payload: oversized };
    }
    kind("hostileBatch");
    return { payload: hostileBatch, properties: { "surplus-batch": "1" } };
  }

  const secret = new Uint8Array(Buffer.from(pulsar.tokenSecret, "base64"));
  const malloryBus = new WebSocketMessageBus({
    url: pulsar.webUrl,
    token: await mintParticipantToken(secret, mallory.address),
  });
  const producer: Producer = await malloryBus.createProducer(topic);
  let sent = 0;
  /** Sends the flood up to message `upTo` (warm-up included), 100 in flight. */
  async function floodTo(upTo: number): Promise<void> {
    while (sent < upTo) {
      const n = Math.min(100, upTo - sent);
      const batch = await Promise.all(Array.from({ length: n }, (_, k) => message(sent + k)));
      await Promise.all(batch.map((msg) => producer.send(msg)));
      sent += n;
    }
  }

  // Warm-up: the rounds' modules, connections and JIT; the same mix, read before the baseline.
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (rounds.length > 0) {
        clearInterval(t);
        resolve();
      }
    }, 100);
    exited.catch((e) => {
      clearInterval(t);
      reject(e);
    });
  });
  await floodTo(WARMUP);
  await drained(Date.now());
  const warm = await sample();
  log(`after warm-up: RSS ${warm.rssMb.toFixed(0)} MB, heap retained ${warm.heapRetainedMb.toFixed(1)} MB`);

  const floodStarted = Date.now();
  const readBefore = rounds.reduce((n, r) => n + r.read, 0);
  const atStage: Array<{ messages: number; sample: FloodSample; readMs: number }> = [];
  for (const stage of STAGES) {
    await floodTo(WARMUP + stage);
    await drained(Date.now());
    const s = await sample();
    atStage.push({ messages: stage, sample: s, readMs: Date.now() - floodStarted });
    log(
      `${stage} messages read (${((Date.now() - floodStarted) / 1000).toFixed(1)} s): RSS ${s.rssMb.toFixed(0)} MB ` +
        `(peak ${s.peakRssMb.toFixed(0)}), heap ${s.heapUsedMb.toFixed(0)} MB (peak ${s.peakHeapUsedMb.toFixed(0)}), ` +
        `retained ${s.heapRetainedMb.toFixed(1)} MB; heap total ${s.heapTotalMb.toFixed(0)} MB, external ` +
        `${s.externalMb.toFixed(0)} MB (array buffers ${s.arrayBuffersMb.toFixed(0)})`,
    );
  }
  const floodMs = Date.now() - floodStarted;
  const readFlood = rounds.reduce((n, r) => n + r.read, 0) - readBefore;
  await producer.close();
  await malloryBus.close();

  // The honest pair, after the flood.
  const bus = new WebSocketMessageBus({ url: pulsar.webUrl, token: pulsar.adminToken });
  const honest = await bus.createProducer(topic);
  const s: SupplierOffer = {
    kind: "supplier",
    schemaVersion: SCHEMA_VERSION,
    account: supplier.address as Address,
    nonce: 1n,
    capacityMips: 4_000,
    ramMb: 4_096,
    start,
    end: start + 7_200,
    minPricePerMi: 100n,
    mediators: [mediator],
  };
  const postedAt = Date.now();
  const roundsBefore = rounds.length;
  await honest.send({ payload: enc(await signEnvelope(supplier, m.domain, "SupplierOffer", s, postedAt)) });
  await honest.send({
    payload: enc(
      await signEnvelope(
        customer,
        m.domain,
        "CustomerOffer",
        customerOffer(customer.address as Address, 1),
        postedAt,
      ),
    ),
  });
  await honest.close();
  await bus.close();
  let matchedMs: number | undefined;
  while (matchedMs === undefined && Date.now() - postedAt < 60_000) {
    const hit = rounds
      .slice(roundsBefore)
      .find((r) => r.allocations.some((a) => a.customer === customer.address));
    if (hit) matchedMs = hit.at - postedAt;
    else await new Promise((r) => setTimeout(r, 50));
  }
  const last = await sample();
  const allocations = rounds.flatMap((r) => r.allocations);
  const others = allocations.filter(
    (a) => a.customer !== customer.address || a.suppliers.some((x) => x !== supplier.address),
  ).length;
  const rejected: Record<string, number> = {};
  for (const r of rounds)
    for (const [k, v] of Object.entries(r.rejected)) rejected[k] = (rejected[k] ?? 0) + v;
  const examples = Object.assign({}, ...rounds.map((r) => r.examples).reverse()) as Record<string, string>;

  const peakRss = Math.max(...samples.slice(1).map((x) => x.peakRssMb));
  const peakHeap = Math.max(...samples.slice(1).map((x) => x.peakHeapUsedMb));
  const first = atStage[0]!.sample;
  const round1 = (v: number) => Math.round(v * 10) / 10;
  const rows: ResultRow[] = [
    { name: "rss_after_warmup_mb", value: round1(warm.rssMb), unit: "MB", note: `after ${WARMUP} messages` },
    ...atStage.flatMap(({ messages, sample: x }) => [
      {
        name: `rss_at_${messages / 1000}k_mb`,
        value: round1(x.rssMb),
        unit: "MB",
        note: `RSS once ${messages} flood messages were read (peak since the last sample ${x.peakRssMb.toFixed(0)} MB)`,
      },
      {
        name: `heap_retained_at_${messages / 1000}k_mb`,
        value: round1(x.heapRetainedMb),
        unit: "MB",
        note: `heap after a full GC (peak used ${x.peakHeapUsedMb.toFixed(0)} MB)`,
      },
    ]),
    {
      name: "peak_rss_mb",
      value: round1(peakRss),
      unit: "MB",
      target: `<= ${Math.round(1.5 * warm.rssMb)}`,
      note: "peak over the flood and the honest pair; target 1.5× the RSS after warm-up",
    },
    {
      name: "peak_heap_used_mb",
      value: round1(peakHeap),
      unit: "MB",
      note: "peak heap in use (garbage included)",
    },
    {
      name: "heap_retained_growth_mb",
      value: round1(last.heapRetainedMb - first.heapRetainedMb),
      unit: "MB",
      target: "<= 32",
      note: `retained heap at the end minus at ${STAGES[0]} messages: what grows with hostile input`,
    },
    {
      name: "rss_growth_last_half_mb",
      value: round1(atStage.at(-1)!.sample.peakRssMb - (atStage.at(-2) ?? atStage.at(-1)!).sample.rssMb),
      unit: "MB",
      target: "<= 32",
      note: `peak RSS while the last ${TOTAL - (STAGES.at(-2) ?? 0)} messages were read minus the RSS before them: bounded state does not grow with the flood`,
    },
    {
      name: "flood_read_rate",
      value: Math.round((TOTAL / floodMs) * 1000),
      unit: "msg/s",
      note: `${TOTAL} entries sent and read in ${(floodMs / 1000).toFixed(1)} s (${readFlood} messages read by the rounds)`,
    },
    {
      name: "honest_pair_matched",
      value: matchedMs === undefined ? 0 : 1,
      unit: "yes",
      target: ">= 1",
      note: "the funded pair posted after the flood is allocated (1 = yes)",
    },
    {
      name: "honest_pair_ms",
      value: matchedMs ?? 60_000,
      unit: "ms",
      target: "<= 10000",
      note: "post → allocation",
    },
    {
      name: "other_allocations",
      value: others,
      unit: "",
      target: "<= 0",
      note: "allocations of anyone but the honest pair",
    },
  ];
  report("flood", rows, {
    messages: TOTAL,
    warmup: WARMUP,
    allocatorFlags: args["allocator-flags"],
    maxBatches: args["max-batches"] ?? "default",
    sent: kinds,
    rejected,
    examples,
    recorded: rounds.reduce((n, r) => n + r.recorded, 0),
    rounds: rounds.length,
    samples: atStage.map(({ messages, sample: x, readMs }) => ({ messages, readMs, ...x })),
    cores: cpus().length,
    loadAverage: { atStart: load0, atEnd: loadavg()[0] },
  });
  child.send({ type: "stop" });
} finally {
  await stops();
}
