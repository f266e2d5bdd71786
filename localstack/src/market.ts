// ./surplus market — the whole protocol end to end on this machine, on the real services:
// Apache Pulsar, DynamoDB Local and a Hardhat node with the market contract. The Allocator and the
// verifier-bridge run their use cases (the Lambda handlers' code) under a one-second local
// scheduler; Customers, Suppliers and the Mediator run the edge roles and talk to each other only
// through Pulsar and the chain. Prints live progress and ends with a summary (also written to
// .data/market/report.md).
//
//   --keep-up     leave the stack running afterwards and print how to attach an edge runtime
//   --seconds N   how long each Customer's service should run (default 40)
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { MarketEventReader } from "@surplus/adapters/chain";
import {
  createTables,
  DynamoAllocatorRegistry,
  DynamoBridgeRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import {
  admitParticipant,
  allocationChannels,
  type Consumer,
  DEFAULT_LAYOUT,
  ParticipantKind,
  PulsarAdmin,
  PulsarTimeoutError,
  provisionMarket,
  type ReceivedMessage,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { NO_RESULT, toTerms } from "@surplus/contracts";
import {
  type Address,
  type Allocation,
  allocationId,
  type Bytes32,
  type CustomerOffer,
  type Hex,
  offerId,
  SCHEMA_VERSION,
  type SupplierOffer,
  signEnvelope,
  toWire,
  verifyEnvelope,
} from "@surplus/core";
import {
  feedInputs,
  inputPublisher,
  mediate,
  OutputCollector,
  OutputLedger,
  outputPublisher,
  prepareTestPlan,
  prng,
  readStream,
  ServiceSandbox,
  type SignedResult,
  SupplierJob,
  serviceHash,
  subscribeInputs,
  syntheticFrame,
  type TestPlan,
} from "@surplus/edge";
import type { Contract, ContractTransactionResponse } from "ethers";
import { PulsarAllocationPublisher, PulsarOfferSource } from "../../lambdas/allocator/pulsar.ts";
import { runAllocatorRound } from "../../lambdas/allocator/round.ts";
import { runBridge } from "../../lambdas/verifier-bridge/bridge.ts";
import { PulsarAnnouncer, PulsarChannelProvisioner } from "../../lambdas/verifier-bridge/pulsar.ts";
import { deployLocalMarket, startChain } from "./chain.ts";
import { startDynamoDbLocal } from "./dynamodb.ts";
import { say, short } from "./market/log.ts";
import { type Participant, participant, serviceWasm, telemetry } from "./market/participants.ts";
import { startPulsar, stopPulsar } from "./pulsar.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const { values: args } = parseArgs({
  // `./surplus market -- --seconds 30` forwards the `--` too: drop it.
  args: process.argv.slice(2).filter((a) => a !== "--"),
  options: { "keep-up": { type: "boolean", default: false }, seconds: { type: "string", default: "40" } },
});
const SERVICE_SECONDS = Number(args.seconds);
/** ρ for the demo: small enough that a short allocation still carries a dozen hidden tests. */
const PENALTY_RATE = 50n;
const FUNDS = 10n ** 21n;
const decoder = new TextDecoder();

console.log(`
  Surplus — a decentralized market for stream-processing compute, running locally.

  What you are looking at: three Suppliers offer spare CPU, two Customers (a people counter on
  camera frames at 20 frames/s, and a bus-energy estimator on telemetry) buy it. The Allocator
  matches offers every second; each party accepts by signing; the allocation is opened in the
  market contract, which locks deposits. Suppliers run the Customer's WebAssembly service on the
  live stream (Pulsar); the Customer mixed secret test inputs into it. At the end the contract
  checks each Supplier's sealed result against the Customer's commitment. One Supplier cheats
  (skips 40% of its inputs): watch it get disputed, mediated and fined.
`);

// ---------------------------------------------------------------- the stack
const services: Array<() => Promise<void>> = [];
const stopAll = async () => {
  for (const stop of services.reverse()) await stop().catch(() => undefined);
};
process.once("SIGINT", () => {
  say("market", "interrupted: stopping everything this run started…");
  void stopAll().then(() => process.exit(130));
});

const pulsar = await startPulsar({ log: (l) => say("market", `pulsar: ${l}`) });
if (pulsar.startedHere && !args["keep-up"]) services.push(async () => void (await stopPulsar()));
const dynamo = await startDynamoDbLocal({ log: (l) => say("market", `dynamodb: ${l}`) });
if (!args["keep-up"]) services.push(() => dynamo.stop());
const chain = await startChain({ log: (l) => say("market", `chain: ${l}`) });
if (!args["keep-up"]) services.push(() => chain.stop());

// Account 0 deploys (deployLocalMarket); the others are the market's parties.
const [, treasury, allocatorSigner, mediatorSigner, ...rest] = chain.accounts;
const deployed = await deployLocalMarket(chain, {
  treasury: await treasury!.getAddress(),
  // Fees scaled to the demo's short jobs (a Supplier earns ~6·10^13 units per allocation), so that an
  // honest Supplier profits, as it does at the paper's Table 6 proportions.
  parameters: {
    penaltyRate: PENALTY_RATE,
    allocatorFee: 10n ** 12n,
    mediatorFee: 2n * 10n ** 12n,
    signingWindow: 120n,
    revealWindow: 300n,
    mediationWindow: 300n,
  },
});
const domain = deployed.domain;
say(
  "chain",
  `market contract at ${deployed.marketAddress} (chain ${domain.chainId}), token ${deployed.tokenAddress}`,
);

const prefix = `market-${Date.now().toString(36)}-`;
const dynamoClient = dynamoDbClient(dynamo.endpoint);
await createTables(dynamoClient, tableNames(prefix));
const admin = new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken });
// Each run gets a market tenant of its own, so offers left on a reused broker by an earlier run
// (the channels are persistent) are not matched again.
const layout = { ...DEFAULT_LAYOUT, tenant: `market-${prefix.slice(7, -1)}` };
const channels = await provisionMarket(admin, layout);
say("market", `registries: DynamoDB tables ${prefix}*; market channels ${channels.offers}, …`);

// ---------------------------------------------------------------- participants
const allocator = await participant("allocator", ParticipantKind.Allocator, allocatorSigner!, pulsar);
const mediator = await participant("mediator", ParticipantKind.Mediator, mediatorSigner!, pulsar);
const suppliers = await Promise.all(
  ["supplier A", "supplier B", "supplier C"].map((n, i) =>
    participant(n, ParticipantKind.Supplier, rest[i]!, pulsar),
  ),
);
const customers = await Promise.all(
  ["customer ppl", "customer bus"].map((n, i) =>
    participant(n, ParticipantKind.Customer, rest[3 + i]!, pulsar),
  ),
);
const everyone = [allocator, mediator, ...suppliers, ...customers];
const CHEATER = suppliers[2]!;
const gas: Array<{ allocation: string; call: string; by: string; gas: bigint }> = [];

async function tx(label: string, id: string, by: Participant, send: Promise<ContractTransactionResponse>) {
  const receipt = await (await send).wait();
  gas.push({ allocation: id, call: label, by: by.name, gas: receipt?.gasUsed ?? 0n });
  return receipt;
}
const market = (p: Participant) => deployed.market.connect(p.signer) as Contract;

for (const p of everyone) {
  const token = deployed.token.connect(p.signer) as Contract;
  await (await token.getFunction("mint")(p.address, FUNDS)).wait();
  await (await token.getFunction("approve")(deployed.marketAddress, FUNDS)).wait();
  await tx("deposit", "-", p, market(p).getFunction("deposit")(FUNDS));
  await admitParticipant(admin, { address: p.address, kind: p.kind }, layout);
}
const balance = async (p: Participant) =>
  (await deployed.market.getFunction("balanceOf")(p.address)) as bigint;
const startBalances = new Map(
  await Promise.all(everyone.map(async (p) => [p.name, await balance(p)] as const)),
);
say("market", `${everyone.length} participants funded (each deposited ${FUNDS} token units into the market)`);

// ---------------------------------------------------------------- offers
const now = Math.floor(Date.now() / 1000);
const services_ = {
  people: { wasm: serviceWasm("people-counter"), miPerInput: 50, inputsPerSecond: 20, replicas: 2 },
  bus: { wasm: serviceWasm("bus-energy"), miPerInput: 20, inputsPerSecond: 10, replicas: 1 },
};
const customerOffers = new Map<Address, { offer: CustomerOffer; service: keyof typeof services_ }>();
const offersTimes = new Map<string, number>();
const offerProducer = async (p: Participant) =>
  p.bus.createProducer(channels.offers, { producerName: `offers-${p.address}` });

for (const [i, s] of suppliers.entries()) {
  const offer: SupplierOffer = {
    kind: "supplier",
    schemaVersion: SCHEMA_VERSION,
    account: s.address,
    nonce: 1n,
    capacityMips: 1100,
    ramMb: 512,
    start: now,
    end: now + 3600,
    minPricePerMi: 10n ** 9n + BigInt(i) * 10n ** 8n,
    mediators: [mediator.address],
  };
  const producer = await offerProducer(s);
  await producer.send({
    payload: new TextEncoder().encode(
      toWire(await signEnvelope(s.signer, domain, "SupplierOffer", offer, Date.now())),
    ),
  });
  offersTimes.set(offerId(domain, offer), Date.now());
  say(
    "supplier",
    `${s.name} offers ${offer.capacityMips} MIPS, ${offer.ramMb} MB for an hour at ≥ ${offer.minPricePerMi} per MI${s === CHEATER ? "  (this one will cheat)" : ""}`,
  );
}
for (const [i, c] of customers.entries()) {
  const kind = i === 0 ? "people" : "bus";
  const svc = services_[kind];
  const offer: CustomerOffer = {
    kind: "customer",
    schemaVersion: SCHEMA_VERSION,
    account: c.address,
    nonce: 1n,
    serviceName: kind === "people" ? "people-counter" : "bus-energy",
    serviceHash: serviceHash(svc.wasm),
    miPerInput: svc.miPerInput,
    ramMb: 128,
    inputsPerSecond: svc.inputsPerSecond,
    start: now,
    end: now + 10 + SERVICE_SECONDS,
    maxPricePerMi: 3n * 10n ** 9n,
    replicas: svc.replicas,
    minReplicas: 1,
    minServiceSeconds: Math.min(20, SERVICE_SECONDS),
    mediators: [mediator.address],
  };
  customerOffers.set(c.address, { offer, service: kind });
  const producer = await offerProducer(c);
  await producer.send({
    payload: new TextEncoder().encode(
      toWire(await signEnvelope(c.signer, domain, "CustomerOffer", offer, Date.now())),
    ),
  });
  offersTimes.set(offerId(domain, offer), Date.now());
  say(
    "customer",
    `${c.name} wants ${svc.replicas} replica(s) of ${offer.serviceName} (${svc.inputsPerSecond} inputs/s × ${svc.miPerInput} MI) for ${SERVICE_SECONDS} s at ≤ ${offer.maxPricePerMi} per MI`,
  );
}

// ---------------------------------------------------------------- allocator and bridge, scheduled
const allocatorRegistry = new DynamoAllocatorRegistry(documentClient(dynamoClient), tableNames(prefix));
const allocatorDeps = {
  source: new PulsarOfferSource(allocator.bus, channels.offers, 300),
  registry: allocatorRegistry,
  publisher: new PulsarAllocationPublisher(allocator.bus, channels.allocations, allocator.signer, domain),
};
const adminBus = new WebSocketMessageBus({ url: pulsar.webUrl, token: pulsar.adminToken });
const bridgeRegistry = new DynamoBridgeRegistry(dynamoClient, tableNames(prefix));
const bridgeDeps = {
  chain: new MarketEventReader(chain.provider, deployed.marketAddress),
  registry: bridgeRegistry,
  announcer: new PulsarAnnouncer(adminBus, channels.allocations),
  channels: new PulsarChannelProvisioner(admin, layout),
};
let running = true;
const every = (ms: number, name: string, fn: () => Promise<void>) =>
  (async () => {
    while (running) {
      try {
        await fn();
      } catch (error) {
        say(name, `invocation failed, retried next tick: ${(error as Error).message}`);
      }
      await new Promise((r) => setTimeout(r, ms));
    }
  })();
const allocatorLoop = every(1_000, "allocator", async () => {
  const report = await runAllocatorRound(
    allocatorDeps,
    { domain, allocator: allocator.address, penaltyRate: PENALTY_RATE },
    Date.now(),
  );
  if (report.recorded || report.allocations || report.voids) {
    say(
      "allocator",
      `round: ${report.recorded} offers recorded, ${report.allocations} allocations, ${report.voids} voids, ${report.rejected.length} rejected`,
    );
  }
});
const bridgeLoop = every(1_000, "bridge", async () => {
  const r = await runBridge(bridgeDeps, { confirmations: 0, startBlock: 0 });
  if (r.applied)
    say(
      "bridge",
      `blocks ${r.fromBlock}–${r.toBlock}: ${r.applied} events mirrored to DynamoDB and announced`,
    );
});

// ---------------------------------------------------------------- per allocation
interface Deal {
  readonly id: Bytes32;
  readonly a: Allocation;
  readonly times: Record<string, number>;
  /** The Customer's secret test plan (only the Customer's code reads it). */
  plan?: TestPlan;
  /** Parties of this process that accepted already. */
  readonly accepted: Set<Address>;
  closed?: boolean;
  summary?: string;
}
const deals = new Map<Bytes32, Deal>();

/**
 * Takes a consumer's messages one by one while `keepGoing()`, acknowledging each after `handle`;
 * a message that fails to be handled is reported and acknowledged (it would fail again).
 */
function pump(
  who: string,
  consumer: Consumer,
  keepGoing: () => boolean,
  handle: (m: ReceivedMessage) => Promise<void> | void,
): Promise<void> {
  return (async () => {
    while (keepGoing()) {
      let m: ReceivedMessage;
      try {
        m = await consumer.receive(500);
      } catch (e) {
        if (e instanceof PulsarTimeoutError) continue;
        if (keepGoing()) say(who, `stopped reading ${consumer.topic}: ${(e as Error).message}`);
        return;
      }
      try {
        await handle(m);
      } catch (error) {
        say(who, `could not handle a message: ${(error as Error).message}`);
      }
      await consumer.ack(m);
    }
  })();
}

/** Every participant reads the allocations channel: allocations and the bridge's state changes. */
async function watchAllocations(p: Participant, onMessage: (m: ReceivedMessage) => Promise<void>) {
  const consumer = await p.bus.subscribe(channels.allocations, `watch-${p.address}`, {
    initialPosition: "Earliest",
  });
  void pump(p.name, consumer, () => running, onMessage);
}

/** A party accepts by publishing its EIP-712 Accept on the accept channel (paper ③). */
async function accept(p: Participant, deal: Deal, commitment: Bytes32 = `0x${"00".repeat(32)}`) {
  const producer = await p.bus.createProducer(channels.accept, {
    producerName: `accept-${p.address}-${deal.id.slice(2, 10)}`,
  });
  const env = await signEnvelope(
    p.signer,
    domain,
    "Accept",
    { allocationId: deal.id, account: p.address, commitment },
    Date.now(),
  );
  await producer.send({ payload: new TextEncoder().encode(toWire(env)), key: deal.id });
  await producer.close();
}

/**
 * The Allocator collects accepts from the accept channel (paper ④): each is an EIP-712 Accept,
 * which is exactly the signature the contract takes. When every party of an allocation it made
 * has accepted, it opens the allocation on-chain.
 */
async function collectAccepts() {
  const consumer = await allocator.bus.subscribe(channels.accept, "allocator", {
    initialPosition: "Earliest",
  });
  const pending = new Map<Bytes32, Map<Address, { signature: Hex; commitment: Bytes32 }>>();
  await pump(
    "allocator",
    consumer,
    () => running,
    async (m) => {
      const verified = verifyEnvelope(domain, parse(m), { nowMs: Date.now(), maxAgeMs: 600_000 });
      if (verified.type !== "Accept") throw new Error(`accept rejected: not an Accept but ${verified.type}`);
      const { allocationId: id, account, commitment } = verified.body;
      const terms = await allocatorRegistry.allocation(id);
      const parties = terms ? [terms.customer, terms.mediator, ...terms.suppliers] : [];
      if (!terms || !parties.includes(account))
        throw new Error(`accept rejected: ${account} is not a party of ${short(id)}`);
      const got = pending.get(id) ?? new Map();
      got.set(account, { signature: verified.envelope.signature, commitment });
      pending.set(id, got);
      if (parties.every((x) => got.has(x))) {
        pending.delete(id);
        await openOnChain(id, terms, got);
      }
    },
  );
}

function parse(m: ReceivedMessage): { type?: string; [k: string]: unknown } | undefined {
  try {
    return JSON.parse(decoder.decode(m.payload));
  } catch {
    return undefined;
  }
}

/** Handles the Allocator's signed allocations and the bridge's state changes, for one participant. */
async function onAllocationsMessage(p: Participant, m: ReceivedMessage) {
  const msg = parse(m);
  if (!msg) return;
  if (m.properties.type === "Allocation") {
    const verified = verifyEnvelope(domain, msg, { nowMs: Date.now(), maxAgeMs: 600_000 });
    if (verified.type !== "Allocation") return;
    const a = verified.body;
    const id = allocationId(domain, a);
    const parties = [a.customer, a.mediator, ...a.suppliers];
    if (!parties.includes(p.address)) return;
    let deal = deals.get(id);
    if (!deal) {
      deal = { id, a, times: { allocated: Date.now() }, accepted: new Set() };
      deals.set(id, deal);
      const offered = offersTimes.get(a.customerOffer);
      say(
        "allocator",
        `allocation ${short(id)}: ${a.suppliers.length} replica(s) for ${short(a.customer)} at ${a.pricePerMi} per MI, n = ${a.testCount} hidden tests${offered ? ` (${Date.now() - offered} ms after the offer)` : ""}`,
      );
    }
    if (deal.accepted.has(p.address)) return;
    deal.accepted.add(p.address);
    let commitment: Bytes32 | undefined;
    if (p.address === a.customer) {
      // The Customer prepares its n test inputs and their outputs with its own copy of the service.
      const { service } = customerOffers.get(p.address)!;
      const svc = services_[service];
      const sandbox = ServiceSandbox.load(svc.wasm, { expectedHash: a.serviceHash });
      const random = prng(Number.parseInt(id.slice(2, 10), 16));
      const inputs = Array.from({ length: a.testCount }, () =>
        service === "people" ? syntheticFrame(random) : telemetry(random),
      );
      const outputs = (await sandbox.process(inputs)).map((r) => (r.ok ? r.output : new Uint8Array()));
      await sandbox.close();
      deal.plan = prepareTestPlan(inputs, outputs, a.inputsPerSecond * (a.end - a.start));
      commitment = deal.plan.commitment;
    }
    await accept(p, deal, commitment);
    say(
      p.kind,
      `${p.name} accepts ${short(id)}${commitment ? ` and commits to its tests: Γ = ${short(commitment)}` : ""}`,
    );
    return;
  }
  if (m.properties.type === "AllocationStateChanged") {
    const id = msg.allocationId as Bytes32;
    const deal = deals.get(id);
    if (!deal || (p !== mediator && p.address !== deal.a.customer && !deal.a.suppliers.includes(p.address)))
      return;
    const event = msg.event as string;
    if (event === "AllocationRunning" && !deal.times[`running:${p.address}`]) {
      deal.times[`running:${p.address}`] = Date.now();
      deal.times.running ??= Date.now();
      if (p.address === deal.a.customer) void runCustomer(p, deal);
      else if (deal.a.suppliers.includes(p.address)) void runSupplier(p, deal);
    }
    if (event === "MediationRequested" && p === mediator && !deal.times.mediationRequested) {
      deal.times.mediationRequested = Date.now();
      void runMediator(deal);
    }
    if (event === "AllocationClosed" && p.address === deal.a.customer) {
      deal.times.closed = Date.now();
      deal.closed = true;
      say(
        "chain",
        `allocation ${short(id)} closed (${["settled", "mediated", "mediator timeout", "reveal timeout", "signing failed"][Number(msg.args && (msg.args as { reason: number }).reason)] ?? "?"})`,
      );
    }
  }
}

/** The Allocator submits an allocation with every party's signature (a retried step opens nothing twice). */
async function openOnChain(
  id: Bytes32,
  a: Allocation,
  accepts: Map<Address, { signature: Hex; commitment: Bytes32 }>,
) {
  const [state] = (await deployed.market.getFunction("recordOf")(id)) as [bigint];
  if (state !== 0n) return;
  const sigs = {
    customer: accepts.get(a.customer)!.signature,
    commitment: accepts.get(a.customer)!.commitment,
    mediator: accepts.get(a.mediator)!.signature,
    suppliers: a.suppliers.map((s) => accepts.get(s)!.signature),
  };
  const deal = deals.get(id);
  if (deal) deal.times.accepted = Date.now();
  await tx("open", id, allocator, market(allocator).getFunction("open")(toTerms(a), sigs));
  say("chain", `allocation ${short(id)} opened by the Allocator with every signature: deposits locked`);
}

const ledgers = new Map<string, SupplierJob>();

async function runSupplier(s: Participant, deal: Deal) {
  const ch = allocationChannels(deal.id, deal.a.suppliers, layout);
  const wasm = Object.values(services_).find((v) => serviceHash(v.wasm) === deal.a.serviceHash)!.wasm;
  const sandbox = ServiceSandbox.load(wasm, { expectedHash: deal.a.serviceHash });
  const total = BigInt(deal.a.inputsPerSecond * (deal.a.end - deal.a.start));
  const ledger = new OutputLedger(
    join(ROOT, ".data/market", prefix, `${s.address}-${deal.id.slice(2, 12)}.jsonl`),
  );
  const out = await outputPublisher(
    s.bus,
    ch.outputs[s.address.toLowerCase()]!,
    `output-${s.address}`,
    ledger.nextSeq(),
  );
  const job = new SupplierJob({
    allocationId: deal.id,
    supplier: s.address,
    sandbox,
    ledger,
    input: await subscribeInputs(s.bus, ch.input, `supplier-${s.address}`),
    output: out,
    endSeq: total,
    batchSize: 50,
    ...(s === CHEATER ? { strategy: { processProbability: 0.6, cheatMode: "skip" as const, seed: 7 } } : {}),
  });
  ledgers.set(`${deal.id}:${s.address}`, job);
  say(
    "supplier",
    `${s.name} runs ${short(deal.a.serviceHash)} (hash checked) on ${short(deal.id)}'s input channel`,
  );
  while (!job.done && running) await job.step(1_000);
  await sandbox.close();
  say(
    "supplier",
    `${s.name} done with ${short(deal.id)}: ${job.progress.processed} processed, ${job.progress.skipped} skipped, ${job.progress.failed} failed`,
  );
  // Wait for the Customer's checklist, answer with the sealed result on the output channel.
  const checklistReader = await s.bus.subscribe(ch.checklist, `checklist-${s.address}`, {
    initialPosition: "Earliest",
  });
  const m = await checklistReader.receive(600_000);
  await checklistReader.ack(m);
  const c = JSON.parse(decoder.decode(m.payload)) as { salt: Bytes32; testSeqs: string[] };
  const result = await job.result(
    { allocationId: deal.id, salt: c.salt, testSeqs: c.testSeqs.map(BigInt) },
    s.signer,
    domain,
  );
  const resultProducer = await s.bus.createProducer(ch.outputs[s.address.toLowerCase()]!, {
    producerName: `result-${s.address}`,
  });
  await resultProducer.send({
    payload: new TextEncoder().encode(JSON.stringify(result)),
    properties: { type: "result" },
  });
  await out.close();
  say("supplier", `${s.name} posts its sealed result for ${short(deal.id)}: seal ${short(result.seal)}`);
}

async function runCustomer(c: Participant, deal: Deal) {
  const plan = deal.plan!;
  const ch = allocationChannels(deal.id, deal.a.suppliers, layout);
  const total = BigInt(deal.a.inputsPerSecond * (deal.a.end - deal.a.start));
  const { service } = customerOffers.get(c.address)!;
  const random = prng(99);
  let delivered = 0;
  const collector = new OutputCollector(plan, deal.a.suppliers, () => void delivered++);
  const results = new Map<Address, SignedResult>();
  // Every replica's outputs: the first good one per input goes downstream.
  for (const s of deal.a.suppliers) {
    const consumer = await c.bus.subscribe(ch.outputs[s.toLowerCase()]!, `customer-${c.address}`, {
      initialPosition: "Earliest",
    });
    void pump(
      c.name,
      consumer,
      () => running && !deal.closed,
      (m) => {
        if (m.properties.type === "result")
          results.set(s, JSON.parse(decoder.decode(m.payload)) as SignedResult);
        else if (m.properties.seq !== undefined) {
          collector.take(s, {
            seq: BigInt(m.properties.seq),
            payload: m.payload,
            ...(m.properties.error ? { error: m.properties.error } : {}),
          });
        }
      },
    );
  }
  const publisher = await inputPublisher(c.bus, ch.input, `input-${c.address}-${deal.id.slice(2, 10)}`, 0n);
  say(
    "customer",
    `${c.name} streams ${total} inputs at ${deal.a.inputsPerSecond}/s into ${short(deal.id)}, ${plan.tests.length} of them secret tests`,
  );
  const progress = setInterval(
    () =>
      say("customer", `${c.name}: ${delivered}/${total} outputs delivered downstream for ${short(deal.id)}`),
    10_000,
  );
  await feedInputs({
    plan,
    publisher,
    inputsPerSecond: deal.a.inputsPerSecond,
    total,
    source: () => (service === "people" ? syntheticFrame(random) : telemetry(random)),
  });
  // Let the last outputs arrive, and the allocation's end pass on the chain.
  while (Date.now() / 1000 < deal.a.end + 1) await new Promise((r) => setTimeout(r, 250));
  await new Promise((r) => setTimeout(r, 2_000));
  clearInterval(progress);
  deal.times.streamEnded = Date.now();
  say(
    "customer",
    `${c.name}: stream over, ${delivered}/${total} outputs delivered; revealing the checklist (salt and test positions)`,
  );
  const checklist = await c.bus.createProducer(ch.checklist, { producerName: `checklist-${c.address}` });
  await checklist.send({
    payload: new TextEncoder().encode(
      JSON.stringify({ salt: plan.salt, testSeqs: plan.tests.map((t) => t.seq.toString()) }),
    ),
  });
  const waitUntil = Date.now() + 60_000;
  while (results.size < deal.a.suppliers.length && Date.now() < waitUntil)
    await new Promise((r) => setTimeout(r, 250));
  const mask = collector.disputeMask(deal.a.suppliers);
  for (const [i, s] of deal.a.suppliers.entries()) {
    const r = collector.replicas.get(s)!;
    say(
      "customer",
      `${c.name}: replica ${short(s)} answered ${r.rightTests.length}/${plan.tests.length} tests right on the live stream${mask & (1 << i) ? " — disputed" : ""}`,
    );
  }
  if (mask) await tx("dispute", deal.id, c, market(c).getFunction("dispute")(toTerms(deal.a), mask));
  const resultArgs = deal.a.suppliers.map((s) => {
    const r = results.get(s);
    return r ? { seal: r.seal, signature: r.signature } : NO_RESULT;
  });
  await tx("settle", deal.id, c, market(c).getFunction("settle")(toTerms(deal.a), plan.gamma, resultArgs));
  deal.times.settled = Date.now();
  say(
    "chain",
    `${c.name} settles ${short(deal.id)}: γ revealed, seals checked${mask ? ", disputed replicas go to mediation" : ""}`,
  );
}

async function runMediator(deal: Deal) {
  const ch = allocationChannels(deal.id, deal.a.suppliers, layout);
  const checklistReader = await mediator.bus.createReader(ch.checklist, { startMessageId: "earliest" });
  const c = JSON.parse(decoder.decode((await checklistReader.readNext(60_000)).payload)) as {
    salt: Bytes32;
    testSeqs: string[];
  };
  await checklistReader.close();
  const testSeqs = c.testSeqs.map(BigInt);
  const wanted = new Set(testSeqs);
  say(
    "mediator",
    `mediating ${short(deal.id)}: re-executing ${testSeqs.length} test inputs from the retained input channel`,
  );
  const inputs = await readStream(mediator.bus, ch.input, wanted);
  const published = new Map<Address, Map<bigint, Uint8Array>>();
  const results: Array<{ seal: Bytes32; signature: Hex }> = [];
  for (const s of deal.a.suppliers) {
    const found = await readStream(mediator.bus, ch.outputs[s.toLowerCase()]!, wanted);
    published.set(s, new Map([...found].map(([seq, m]) => [seq, m.payload])));
    const reader = await mediator.bus.createReader(ch.outputs[s.toLowerCase()]!, {
      startMessageId: "earliest",
    });
    let result: { seal: Bytes32; signature: Hex } = NO_RESULT;
    try {
      for (;;) {
        const m = await reader.readNext(1_000);
        if (m.properties.type === "result") result = JSON.parse(decoder.decode(m.payload));
      }
    } catch (e) {
      if (!(e instanceof PulsarTimeoutError)) throw e;
    } finally {
      await reader.close();
    }
    results.push({ seal: result.seal, signature: result.signature });
  }
  const wasm = Object.values(services_).find((v) => serviceHash(v.wasm) === deal.a.serviceHash)!.wasm;
  const sandbox = ServiceSandbox.load(wasm, { expectedHash: deal.a.serviceHash });
  const finding = await mediate({
    checklist: { allocationId: deal.id, salt: c.salt, testSeqs },
    inputs: new Map([...inputs].map(([s, m]) => [s, m.payload])),
    published,
    suppliers: deal.a.suppliers,
    sandbox,
  });
  await sandbox.close();
  if (!finding.gammaM) throw new Error("a test input is missing from the input channel");
  await tx(
    "mediate",
    deal.id,
    mediator,
    market(mediator).getFunction("mediate")(toTerms(deal.a), finding.gammaM, finding.lazyMask, results),
  );
  deal.times.mediated = Date.now();
  say(
    "mediator",
    `finding for ${short(deal.id)}: lazy replicas mask ${finding.lazyMask.toString(2)}; the contract fines them`,
  );
}

for (const p of everyone) await watchAllocations(p, (m) => onAllocationsMessage(p, m));
const acceptsLoop = collectAccepts().catch((e) =>
  say("allocator", `accept collection stopped: ${(e as Error).message}`),
);

// ---------------------------------------------------------------- wait for the market to clear
const deadline = Date.now() + (SERVICE_SECONDS + 240) * 1000;
while (Date.now() < deadline) {
  const all = [...deals.values()];
  if (all.length > 0 && all.length >= customers.length && all.every((d) => d.closed)) break;
  await new Promise((r) => setTimeout(r, 500));
}
await new Promise((r) => setTimeout(r, 1_500)); // the bridge's last pass
running = false;
await Promise.allSettled([allocatorLoop, bridgeLoop, acceptsLoop]);

// ---------------------------------------------------------------- summary
const lines: string[] = [
  "# Surplus local market — run report",
  "",
  `Run ${new Date().toISOString()}, market ${deployed.marketAddress}, ρ = ${PENALTY_RATE}.`,
  "",
];
lines.push(
  "## Participants (market balances, token base units)",
  "",
  "| participant | start | end | change |",
  "| --- | ---: | ---: | ---: |",
);
let sum = 0n;
for (const p of [
  ...everyone,
  { name: "treasury", address: (await treasury!.getAddress()) as Address } as Participant,
]) {
  const end = await balance(p);
  const start = startBalances.get(p.name) ?? 0n;
  sum += end - start;
  lines.push(
    `| ${p.name}${p === CHEATER ? " (cheats)" : ""} | ${start} | ${end} | ${end - start >= 0n ? "+" : ""}${end - start} |`,
  );
}
lines.push("", `Σ changes = ${sum} (0: every token unit locked during the run went to a named party).`, "");
lines.push("## Allocations", "");
for (const d of deals.values()) {
  const mirrored = await bridgeRegistry.chainStateOf(d.id);
  const t0 = d.times.allocated!;
  const at = (k: string) => (d.times[k] ? `+${((d.times[k]! - t0) / 1000).toFixed(1)} s` : "—");
  lines.push(
    `### ${d.id}`,
    "",
    `Customer ${d.a.customer}, Suppliers ${d.a.suppliers.join(", ")}, n = ${d.a.testCount}, price ${d.a.pricePerMi} per MI.`,
    "",
  );
  lines.push(
    `States (bridge's mirror in DynamoDB): ${(mirrored?.history ?? []).map((h) => `${h.event}@block ${h.blockNumber}`).join(" → ")}`,
    "",
  );
  lines.push(
    `Timeline: allocated ${at("allocated")}, accepted ${at("accepted")}, running ${at("running")}, stream ended ${at("streamEnded")}, settled ${at("settled")}, mediated ${at("mediated")}, closed ${at("closed")}.`,
    "",
  );
  lines.push("| call | by | gas |", "| --- | --- | ---: |");
  for (const g of gas.filter((x) => x.allocation === d.id)) lines.push(`| ${g.call} | ${g.by} | ${g.gas} |`);
  lines.push("");
}
const latency = (from: string, to: string) =>
  [...deals.values()]
    .filter((d) => d.times[from] && d.times[to])
    .map((d) => ((d.times[to]! - d.times[from]!) / 1000).toFixed(2));
lines.push(
  "## Stage latencies (s)",
  "",
  `- accepted → Running: ${latency("accepted", "running").join(", ") || "—"}`,
);
lines.push(`- end of stream → Closed: ${latency("streamEnded", "closed").join(", ") || "—"}`);
lines.push(
  `- mediation requested → mediated: ${latency("mediationRequested", "mediated").join(", ") || "—"}`,
  "",
);
const report = lines.join("\n");
const reportDir = join(ROOT, ".data/market");
mkdirSync(reportDir, { recursive: true });
writeFileSync(join(reportDir, "report.md"), `${report}\n`);
console.log(`\n${report}\n\nwritten to .data/market/report.md`);

const allClosed = deals.size > 0 && [...deals.values()].every((d) => d.closed);
if (args["keep-up"]) {
  console.log(`
The stack stays up. Attach your own edge runtime from another terminal:
  Pulsar          ${pulsar.webUrl}   (mint a participant token: role = your address, HS256 secret in .data/pulsar)
  chain JSON-RPC  ${chain.rpcUrl}   market ${deployed.marketAddress}, token ${deployed.tokenAddress}
  DynamoDB Local  ${dynamo.endpoint}   tables ${prefix}*
  ./surplus node edge/bin/surplus-edge.ts validate --config your-supplier.json
Stop with Ctrl-C.`);
} else {
  for (const p of everyone) await p.bus.close().catch(() => undefined);
  await adminBus.close().catch(() => undefined);
  await stopAll();
  process.exit(allClosed && sum === 0n ? 0 : 1);
}
