// End-to-end scenarios of the whole protocol on the real services (the integration setup's Pulsar
// broker, DynamoDB on moto and Hardhat node): each runs a market of its own (contract, Pulsar tenant,
// tables) with the Allocator and verifier-bridge use cases and the edge agents — Suppliers run as
// `surplus-edge run` processes where a scenario kills them. After every scenario the balance
// changes of all parties sum to zero: nothing locked was lost or created.
import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  allocationChannels,
  ParticipantKind,
  PulsarTimeoutError,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { amountsOf, CloseReason } from "@surplus/contracts";
import { type Address, type Bytes32, SCHEMA_VERSION, signEnvelope, toWire } from "@surplus/core";
import type { InputSource } from "@surplus/edge";
import { LOCAL_PARAMETERS, LocalMarket, type MarketScenario } from "@surplus/localstack/market";
import type { EventLog } from "ethers";
import { afterEach, describe, expect, inject, it } from "vitest";

const stack = () => ({
  pulsar: inject("pulsar"),
  dynamodbEndpoint: inject("dynamodbEndpoint"),
  chainRpcUrl: inject("chainRpcUrl"),
});
/** Short protocol windows, so timeouts happen within a test. */
const parameters = { signingWindow: 20n, revealWindow: 20n, mediationWindow: 30n };
const markets: LocalMarket[] = [];
afterEach(async () => {
  await Promise.allSettled(markets.splice(0).map((m) => m.stop()));
});

async function run(scenario: MarketScenario): Promise<LocalMarket> {
  const m = await LocalMarket.start(stack(), { parameters, resultWaitMs: 6_000, ...scenario });
  markets.push(m);
  return m;
}

async function changes(m: LocalMarket): Promise<Record<string, bigint>> {
  const all = await m.balanceChanges();
  // Conservation: every token unit that left someone's balance reached another's.
  expect(all.reduce((s, b) => s + b.change, 0n)).toBe(0n);
  return Object.fromEntries(all.map((b) => [b.name, b.change]));
}

/** Every allocation each Customer got, with why it closed. */
async function outcomes(m: LocalMarket) {
  const out: Array<{
    customer: string;
    id: Bytes32;
    suppliers: string[];
    reason: number | undefined;
    delivered: number;
    total: number;
  }> = [];
  for (const c of m.customers)
    for (const d of c.agent.allocations.values())
      out.push({
        customer: c.p.name,
        id: d.id,
        suppliers: d.allocation.suppliers.map((s) => m.participants.find((p) => p.address === s)!.name),
        reason: await m.closeReasonOf(d.id),
        delivered: d.state.delivered ?? 0,
        total: d.allocation.inputsPerSecond * (d.allocation.end - d.allocation.start),
      });
  return out;
}

/** Outputs delivered downstream so far, over every Customer's allocations. */
const delivered = (m: LocalMarket) =>
  m.customers.reduce(
    (n, c) => n + [...c.agent.allocations.values()].reduce((k, d) => k + (d.state.delivered ?? 0), 0),
    0,
  );

/**
 * What a Supplier published on an allocation's output channel (seq → the error it reported, or
 * undefined for an output). Read as the operator: the bridge revokes the participants' grants once
 * the allocation closed.
 */
async function publishedOutputs(
  m: LocalMarket,
  id: Bytes32,
  suppliers: readonly Address[],
  supplier: Address,
) {
  const topic = allocationChannels(id, suppliers, m.layout).outputs[supplier.toLowerCase()]!;
  const admin = new WebSocketMessageBus({ url: inject("pulsar").webUrl, token: inject("pulsar").adminToken });
  const reader = await admin.createReader(topic, { startMessageId: "earliest" });
  const out = new Map<number, string | undefined>();
  try {
    for (;;) {
      const msg = await reader.readNext(2_000);
      if (msg.properties.seq !== undefined) out.set(Number(msg.properties.seq), msg.properties.error);
    }
  } catch (e) {
    if (!(e instanceof PulsarTimeoutError)) throw e;
  } finally {
    await reader.close();
    await admin.close();
  }
  return out;
}

const when = async (what: string, ok: () => boolean, timeoutMs: number) => {
  const until = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
};

describe("the local market, end to end", () => {
  it("honest r=1 and r=3 allocations close settled: Suppliers paid, Customers charged", async () => {
    const m = await run({
      suppliers: [{ name: "s1" }, { name: "s2" }, { name: "s3" }, { name: "s4" }],
      customers: [
        { name: "c1", service: "people-counter", inputsPerSecond: 10, replicas: 1, seconds: 12 },
        { name: "c3", service: "bus-energy", inputsPerSecond: 10, replicas: 3, seconds: 12 },
      ],
    });
    expect(await m.settled(150_000)).toBe(true);
    const got = await outcomes(m);
    expect(got.map((o) => [o.customer, o.suppliers.length, o.reason]).sort()).toEqual([
      ["c1", 1, CloseReason.Settled],
      ["c3", 3, CloseReason.Settled],
    ]);
    for (const o of got) expect(o.delivered).toBe(o.total);
    const delta = await changes(m);
    for (const s of new Set(got.flatMap((o) => o.suppliers))) expect(delta[s]).toBeGreaterThan(0n);
    expect(delta.c1).toBeLessThan(0n);
    expect(delta.c3).toBeLessThan(0n);
    expect(delta.allocator).toBeGreaterThan(0n);
  }, 240_000);

  it("a Customer that withholds its test outputs is fined its deposit; the Supplier is paid", async () => {
    const m = await run({
      suppliers: [{ name: "s1" }],
      customers: [
        {
          name: "silent",
          service: "bus-energy",
          inputsPerSecond: 10,
          replicas: 1,
          seconds: 10,
          reveal: false,
        },
      ],
    });
    expect(await m.settled(150_000)).toBe(true);
    const [o] = await outcomes(m);
    expect(o!.reason).toBe(CloseReason.RevealTimeout);
    const delta = await changes(m);
    expect(delta.s1).toBeGreaterThan(0n);
    // Its deposit went to the treasury, on top of what it paid the Supplier.
    expect(delta.treasury).toBeGreaterThan(0n);
    expect(-delta.silent!).toBeGreaterThan(delta.s1! + delta.treasury! - 1n);
  }, 240_000);

  it("a Supplier killed mid-stream is fined while its replica keeps every output flowing", async () => {
    const m = await run({
      suppliers: [{ name: "doomed", process: true }, { name: "steady" }],
      customers: [{ name: "c", service: "bus-energy", inputsPerSecond: 10, replicas: 2, seconds: 16 }],
    });
    const doomed = m.participants.find((p) => p.name === "doomed")!;
    await when("a third of the stream to be delivered", () => delivered(m) >= 50, 90_000);
    await m.kill(doomed);
    expect(await m.settled(150_000)).toBe(true);
    const [o] = await outcomes(m);
    expect(o!.suppliers.sort()).toEqual(["doomed", "steady"]);
    expect(o!.reason).toBe(CloseReason.Mediated);
    // No gap downstream: every input got its output, from one replica or the other.
    expect(o!.delivered).toBe(o!.total);
    const delta = await changes(m);
    expect(delta.doomed).toBeLessThan(0n);
    expect(delta.steady).toBeGreaterThan(0n);
  }, 240_000);

  it("a front-running lazy Supplier that answers the tests late and tries to settle first is caught and fined", async () => {
    // It skips the whole stream, waits for the Customer's checklist, reads the inputs at the test
    // positions back from the retained input channel, runs them and publishes those outputs as if
    // live, seals a γ that matches the Customer's, and calls settle before the Customer does (what
    // paid it P + D before issue 14). Only the Customer may settle; its dispute mask was frozen from
    // the live outputs before the reveal, and the Mediator counts only outputs published before the
    // checklist: the late answers do not save it.
    const m = await run({
      suppliers: [
        { name: "honest" },
        {
          name: "frontrunner",
          strategy: { processProbability: 0, cheatMode: "skip", seed: 7, frontRun: true },
        },
      ],
      customers: [{ name: "c", service: "bus-energy", inputsPerSecond: 10, replicas: 2, seconds: 12 }],
      // Time for its late answers and sealed result to arrive (the reveal window is 20 s).
      resultWaitMs: 10_000,
    });
    expect(await m.settled(180_000)).toBe(true);
    const [o] = await outcomes(m);
    expect(o!.suppliers.sort()).toEqual(["frontrunner", "honest"]);
    expect(o!.reason).toBe(CloseReason.Mediated);
    expect(o!.delivered).toBe(o!.total);
    const by = (who: string, event: string) => m.events.filter((e) => e.who === who && e.event === event);
    // It did answer every test position late, and its settle was refused.
    expect(by("frontrunner", "frontrun.late-outputs")).toHaveLength(1);
    expect(by("frontrunner", "frontrun.refused")).toHaveLength(1);
    expect(by("frontrunner", "frontrun.settled")).toHaveLength(0);
    expect(
      by("frontrunner", "tx.failed").some(
        (e) => e.fields.call === "settle" && /UnauthorizedCaller/.test(String(e.fields.error)),
      ),
    ).toBe(true);
    // The Customer disputed it from the live stream, though its sealed result came in.
    const checked = by("c", "replica.checked");
    const frontrunner = m.participants.find((p) => p.name === "frontrunner")!.address;
    expect(checked.find((e) => e.fields.supplier === frontrunner)?.fields.disputed).toBe(true);
    expect(checked.find((e) => e.fields.supplier !== frontrunner)?.fields.disputed).toBe(false);
    expect(by("c", "results.collected")[0]?.fields.results).toBe(2);
    // On-chain: its late seal matched γ_c at settle, and it went to mediation only because the
    // Customer disputed it.
    const market = m.deployed.market;
    const [settledEvent] = await market.queryFilter(market.filters.AllocationSettled!(o!.id));
    const [requested] = await market.queryFilter(market.filters.MediationRequested!(o!.id));
    const bit = 1 << m.customers[0]!.agent.allocations.get(o!.id)!.allocation.suppliers.indexOf(frontrunner);
    expect(Number((settledEvent as EventLog).args.matched) & bit).toBe(bit);
    expect(Number((requested as EventLog).args.disputed)).toBe(bit);
    // The Mediator saw its late outputs and left them out.
    expect(Number(by("mediator", "mediation.late-outputs")[0]?.fields.late)).toBeGreaterThan(0);
    const delta = await changes(m);
    // Fined its whole deposit and not paid: −(D + F), as the contract's Mediated close pays.
    const { deposit: D } = amountsOf(
      m.customers[0]!.agent.allocations.get(o!.id)!.allocation,
      m.deployed.parameters,
    );
    expect(delta.frontrunner).toBe(-(D + m.deployed.parameters.allocatorFee));
    expect(delta.honest).toBeGreaterThan(0n);
    expect(delta.mediator).toBeGreaterThan(0n);
    expect(delta.c).toBeLessThan(0n);
  }, 300_000);

  it("a Supplier killed mid-stream and restarted resumes: every output exactly once, and it is paid", async () => {
    const m = await run({
      suppliers: [{ name: "phoenix", process: true }],
      customers: [{ name: "c", service: "people-counter", inputsPerSecond: 10, replicas: 1, seconds: 16 }],
    });
    const phoenix = m.participants.find((p) => p.name === "phoenix")!;
    await when("a third of the stream to be delivered", () => delivered(m) >= 50, 90_000);
    await m.kill(phoenix);
    await new Promise((r) => setTimeout(r, 1_000));
    m.restart(phoenix);
    expect(await m.settled(150_000)).toBe(true);
    const [o] = await outcomes(m);
    expect(o!.reason).toBe(CloseReason.Settled);
    expect(o!.delivered).toBe(o!.total);
    // The restarted process resumed the allocation after the outputs it had stored.
    expect(m.events.some((e) => e.who === "phoenix" && e.event === "resumed")).toBe(true);
    const starts = m.events.filter((e) => e.who === "phoenix" && e.event === "job.started");
    expect(Number(starts.at(-1)!.fields.resumeAt)).toBeGreaterThan(0);
    expect(m.events.filter((e) => e.who === "phoenix" && e.event === "offer.posted").length).toBe(1);
    // Its output channel holds each output once: the broker dropped what the restart re-sent.
    const topic = allocationChannels(o!.id, [phoenix.address], m.layout).outputs[
      phoenix.address.toLowerCase()
    ]!;
    // Read as the operator: the bridge revokes the participants' grants once the allocation closed.
    const admin = new WebSocketMessageBus({
      url: inject("pulsar").webUrl,
      token: inject("pulsar").adminToken,
    });
    const reader = await admin.createReader(topic, { startMessageId: "earliest" });
    const seqs: string[] = [];
    try {
      for (;;) {
        const msg = await reader.readNext(2_000);
        if (msg.properties.seq !== undefined) seqs.push(msg.properties.seq);
      }
    } catch (e) {
      if (!(e instanceof PulsarTimeoutError)) throw e;
    } finally {
      await reader.close();
      await admin.close();
    }
    expect(seqs.length).toBe(o!.total);
    expect(new Set(seqs).size).toBe(o!.total);
    // Once Closed, the Supplier cleans up the record of its outputs.
    const ledger = join(m.dataDir, phoenix.address, "ledgers", `${o!.id}.jsonl`);
    await when("the Supplier's clean-up", () => !existsSync(ledger), 20_000);
    const delta = await changes(m);
    expect(delta.phoenix).toBeGreaterThan(0n);
  }, 240_000);

  it("an allocator round and a bridge run that crash and are retried allocate and apply nothing twice", async () => {
    const m = await run({
      suppliers: [{ name: "s1" }, { name: "s2" }],
      customers: [
        { name: "c1", service: "bus-energy", inputsPerSecond: 10, replicas: 1, seconds: 10 },
        { name: "c2", service: "bus-energy", inputsPerSecond: 10, replicas: 1, seconds: 10 },
      ],
      faults: { allocatorCrashOnce: true, bridgeCrashOnce: true },
    });
    expect(await m.settled(150_000)).toBe(true);
    expect(
      m.events
        .filter((e) => e.event === "crash.injected")
        .map((e) => e.who)
        .sort(),
    ).toEqual(["allocator", "bridge"]);
    const got = await outcomes(m);
    // One allocation per Customer offer, each opened once and closed once.
    expect(got.map((o) => o.customer).sort()).toEqual(["c1", "c2"]);
    expect(got.every((o) => o.reason === CloseReason.Settled)).toBe(true);
    expect(m.gas.filter((g) => g.call === "open").length).toBe(2);
    for (const o of got) {
      // The bridge mirrors the close within a run or two.
      let mirrored = await m.bridgeRegistry.chainStateOf(o.id);
      for (let i = 0; i < 20 && !mirrored?.history.some((h) => h.event === "AllocationClosed"); i++) {
        await new Promise((r) => setTimeout(r, 500));
        mirrored = await m.bridgeRegistry.chainStateOf(o.id);
      }
      // One entry per (transaction, event): a retried bridge run recorded nothing twice.
      const keys = (mirrored?.history ?? []).map((h) => `${h.transactionHash}:${h.event}`);
      expect(keys.length).toBeGreaterThan(0);
      expect(new Set(keys).size).toBe(keys.length);
      expect(mirrored?.history.filter((h) => h.event === "AllocationClosed").length).toBe(1);
    }
    await changes(m);
  }, 240_000);

  it("a Customer's service that traps or loops forever on some inputs is contained and reported", async () => {
    // test/flaky traps on inputs starting with 0xfe and loops forever on 0xff. The live stream
    // holds two of each. The Customer's tests are secret positions of that same stream, so a
    // failing input may be one: the Customer's own execution fails there too, and a failure stands
    // for the empty output on every side (the Suppliers publish it with the reason), so no replica
    // is disputed for it.
    const traps = new Set([5, 17]);
    const loops = new Set([9, 21]);
    let k = 0;
    const source: InputSource = {
      next: async () => {
        const i = k++;
        return new Uint8Array([traps.has(i) ? 0xfe : loops.has(i) ? 0xff : i, 7, 7]);
      },
    };
    // One replica in this process, the other a `surplus-edge run` daemon of its own.
    const m = await run({
      suppliers: [{ name: "s1" }, { name: "s2", process: true }],
      customers: [{ name: "c", service: "test/flaky", inputsPerSecond: 4, replicas: 2, seconds: 7, source }],
    });
    expect(await m.settled(150_000)).toBe(true);
    const got = await outcomes(m);
    expect(got).toHaveLength(1);
    const [o] = got;
    expect(o!.suppliers.sort()).toEqual(["s1", "s2"]);
    // Nobody answered a test wrongly: no dispute, no mediation, nobody fined.
    expect(o!.reason).toBe(CloseReason.Settled);
    const stored = m.customers[0]!.agent.allocations.get(o!.id)!;
    const failing = [...traps, ...loops].sort((a, b) => a - b);
    for (const s of m.suppliers) {
      // Each replica kept going after every failure and published every input's result, the
      // failed ones with the reason.
      const published = await publishedOutputs(m, o!.id, stored.allocation.suppliers, s.p.address);
      expect(published.size).toBe(o!.total);
      const errors = [...published].filter(([, error]) => error !== undefined).sort(([a], [b]) => a - b);
      expect(errors.map(([seq]) => seq)).toEqual(failing);
      for (const [seq, error] of errors)
        expect(error).toMatch(traps.has(seq) ? /^trap: unreachable/ : /^time budget exceeded/);
      const done = m.events.find((e) => e.who === s.p.name && e.event === "job.done");
      expect(done?.fields).toMatchObject({ failed: failing.length, processed: o!.total - failing.length });
    }
    // The daemon ran through it all: it never exited (nor restarted).
    expect(m.events.filter((e) => e.who === "s2" && e.event === "process.exited")).toEqual([]);
    // Every other input's output went downstream.
    expect(o!.delivered).toBe(o!.total - failing.length);
    const delta = await changes(m);
    expect(delta.s1).toBeGreaterThan(0n);
    expect(delta.s2).toBeGreaterThan(0n);
    expect(delta.c).toBeLessThan(0n);
    // The Mediator's standby fee only: nothing was mediated; and no deposit went to the treasury.
    expect(delta.mediator).toBe(LOCAL_PARAMETERS.mediatorFee);
    expect(delta.treasury).toBe(0n);
  }, 240_000);

  it("a Customer offer longer than any Supplier window is chunked into consecutive allocations and each runs and closes", async () => {
    // Each Supplier offers 29 s windows back to back: the next one, from where the current one ends,
    // is posted half a window (14 s) before that end. The Customer wants 30 s from 15 s after it
    // posts, in allocations of at least δ_min = 5 s, so no single window holds it: it is cut where
    // the first window ends, and the rest comes from the next. An allocation is made at least
    // δ_alloc + δ_setup = 10 s before it starts, so the second piece (starting where the first
    // window ends) is allocated in the 4 s between the next offer's posting and that deadline.
    const window = 29;
    const m = await run({
      suppliers: [
        { name: "s1", windowSeconds: window },
        { name: "s2", windowSeconds: window },
      ],
      customers: [
        {
          name: "c",
          service: "people-counter",
          inputsPerSecond: 2,
          replicas: 1,
          seconds: 30,
          minServiceSeconds: 5,
          startInSeconds: 15,
        },
      ],
    });
    expect(await m.settled(180_000)).toBe(true);
    const offer = m.customers[0]!.agent.offer!;
    expect(offer.end - offer.start).toBeGreaterThan(window);
    const got = await outcomes(m);
    const chunks = [...m.customers[0]!.agent.allocations.values()]
      .map((d) => ({ ...d.allocation, got: got.find((o) => o.id === d.id)! }))
      .sort((a, b) => a.start - b.start);
    expect(chunks.length).toBeGreaterThan(1);
    // Consecutive: together they tile the requested time, each within one Supplier window.
    expect(chunks[0]!.start).toBe(offer.start);
    expect(chunks.at(-1)!.end).toBe(offer.end);
    chunks.forEach((d, i) => {
      if (i > 0) expect(d.start).toBe(chunks[i - 1]!.end);
      expect(d.end - d.start).toBeGreaterThanOrEqual(offer.minServiceSeconds);
      expect(d.end - d.start).toBeLessThanOrEqual(window);
      // Each ran and closed settled, every one of its inputs delivered.
      expect(d.got.reason).toBe(CloseReason.Settled);
      expect(d.got.delivered).toBe(d.got.total);
    });
    expect(chunks.reduce((n, d) => n + d.got.total, 0)).toBe(
      offer.inputsPerSecond * (offer.end - offer.start),
    );
    // A Supplier's offers follow one another and never overlap (capacity is counted per offer).
    for (const name of ["s1", "s2"]) {
      const windows = m.events
        .filter((e) => e.who === name && e.event === "offer.posted")
        .map((e) => [Number(e.fields.start), Number(e.fields.end)] as const);
      expect(windows.length).toBeGreaterThan(1);
      windows.forEach(([start], i) => {
        if (i > 0) expect(start).toBe(windows[i - 1]![1]);
      });
    }
    const delta = await changes(m);
    expect(delta.c).toBeLessThan(0n);
    for (const s of new Set(got.flatMap((o) => o.suppliers))) expect(delta[s]).toBeGreaterThan(0n);
  }, 240_000);

  it("malformed, forged and replayed messages on the public channels are refused and the market carries on", async () => {
    const m = await run({
      suppliers: [{ name: "s1" }],
      customers: [{ name: "c", service: "bus-energy", inputsPerSecond: 10, replicas: 1, seconds: 10 }],
    });
    const mallory = await m.addParticipant("mallory", ParticipantKind.Supplier);
    const victim = m.suppliers[0]!.p;
    const offers = await mallory.bus.createProducer(m.channels.offers);
    const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : toWire(v));
    await offers.send({ payload: new Uint8Array([0xff, 0x00, 0x13]) });
    await offers.send({ payload: enc({ hello: "world" }) });
    const now = Math.floor(Date.now() / 1000);
    const forged = await signEnvelope(
      mallory.wallet,
      m.deployed.domain,
      "SupplierOffer",
      {
        kind: "supplier",
        schemaVersion: SCHEMA_VERSION,
        account: mallory.address,
        nonce: 1n,
        capacityMips: 100_000,
        ramMb: 4096,
        start: now,
        end: now + 3600,
        minPricePerMi: 1n,
        mediators: [m.mediator.p.address],
      },
      Date.now(),
    );
    // The victim's account with mallory's signature.
    await offers.send({
      payload: enc({
        ...forged,
        signer: victim.address,
        body: { ...(forged.body as object), account: victim.address },
      }),
    });
    // A replay of the victim's real offer, byte for byte.
    const reader = await mallory.bus.createReader(m.channels.offers, { startMessageId: "earliest" });
    const original = await reader.readNext(10_000);
    await reader.close();
    await offers.send({ payload: original.payload });
    // Mallory may not publish allocations: the broker refuses.
    await expect(
      (async () => {
        const p = await mallory.bus.createProducer(m.channels.allocations);
        await p.send({ payload: enc({ type: "Allocation" }) });
      })(),
    ).rejects.toThrow();
    // A forged Accept for the Customer's allocation.
    await when("an allocation", () => m.customers[0]!.agent.allocations.size > 0, 90_000);
    const [id] = [...m.customers[0]!.agent.allocations.keys()];
    const accept = await signEnvelope(
      mallory.wallet,
      m.deployed.domain,
      "Accept",
      { allocationId: id!, account: mallory.address, commitment: `0x${"00".repeat(32)}` },
      Date.now(),
    );
    const accepts = await mallory.bus.createProducer(m.channels.accept);
    await accepts.send({
      payload: enc({
        ...accept,
        signer: m.customers[0]!.p.address,
        body: { ...(accept.body as object), account: m.customers[0]!.p.address },
      }),
    });
    await accepts.send({ payload: enc("not json") });

    expect(await m.settled(150_000)).toBe(true);
    const [o] = await outcomes(m);
    expect(o!.reason).toBe(CloseReason.Settled);
    const rejected = m.events
      .filter((e) => e.who === "allocator" && e.event === "round")
      .reduce((n, e) => n + Number(e.fields.rejected ?? 0), 0);
    expect(rejected).toBeGreaterThanOrEqual(3);
    expect(m.events.filter((e) => e.event === "accept.rejected").length).toBeGreaterThanOrEqual(2);
    expect(m.gas.filter((g) => g.call === "open").length).toBe(1);
    const delta = await changes(m);
    expect(delta.mallory).toBe(0n);
  }, 240_000);
});
