// One allocation end to end through the edge roles, on the real Pulsar broker (global setup) and
// the market contract on Hardhat's EDR: the Customer streams frames and runs its service on those
// at its secret test positions as they pass, an honest Supplier that crashes mid-stream and
// restarts, a Supplier that skips half its inputs, the Customer's settle with its dispute mask, the
// Mediator's re-execution from the retained channels, and the contract's fines — with every
// party's balance checked and money conserved.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  type AllocationChannels,
  type MessageBus,
  mintParticipantToken,
  PulsarAdmin,
  PulsarTimeoutError,
  provisionAllocationChannels,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import {
  as,
  balances,
  createNetwork,
  delta,
  deployFunded,
  type Market,
  makeAllocation,
  openRunning,
  type TestAllocation,
  testAllocation,
  toEnd,
} from "@surplus/contracts/test-support";
import type { Address, Bytes32 } from "@surplus/core";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  feedInputs,
  gammaOfPlan,
  inputPublisher,
  mediate,
  OutputCollector,
  OutputLedger,
  outputHashOf,
  outputPublisher,
  prepareTestPlan,
  prng,
  readStream,
  ServiceSandbox,
  type SignedResult,
  SupplierJob,
  seqsHashOf,
  serviceHash,
  subscribeInputs,
  syntheticFrame,
  type TestPlan,
  tapTests,
} from "../src/index.ts";

const wasm = (name: string) => readFileSync(new URL(`../build/${name}.wasm`, import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "edge-int-"));
const buses: MessageBus[] = [];
let m: Market;
let d: TestAllocation;
let plan: TestPlan;
let channels: AllocationChannels;
/** The Customer's own output hashes at its test positions. */
const expected = new Map<bigint, Bytes32>();
/** The dispute mask the Customer settles with. */
let disputed = 0;
let total: bigint;
/** Every party's free balance in the market before the allocation opened. */
let initial: Record<string, bigint>;
const broker = () => inject("pulsar");

async function busFor(address: string): Promise<MessageBus> {
  const b = broker();
  const token = await mintParticipantToken(
    new Uint8Array(Buffer.from(b.tokenSecret, "base64")),
    address as `0x${string}`,
  );
  const bus = new WebSocketMessageBus({ url: b.webUrl, token });
  buses.push(bus);
  return bus;
}

beforeAll(async () => {
  m = await deployFunded(await createNetwork());
  const service = wasm("people-counter");
  const a = { ...(await makeAllocation(m, { replicas: 2 })), serviceHash: serviceHash(service) };
  total = BigInt(a.inputsPerSecond * (a.end - a.start));
  const base = testAllocation(m, a);
  // The Customer's secret checklist: n positions of its live stream, and Γ its Accept signs.
  plan = prepareTestPlan(base.id, a.testCount, Number(total));
  d = { ...base, outputs: { ...base.outputs, commitment: plan.commitment } };
  initial = await balances(m);
  await openRunning(m, d);
  const b = broker();
  channels = await provisionAllocationChannels(new PulsarAdmin({ url: b.webUrl, token: b.adminToken }), {
    allocationId: d.id,
    customer: a.customer,
    suppliers: a.suppliers,
    mediator: a.mediator,
    allocator: a.allocator,
  });
}, 180_000);

afterAll(async () => {
  await Promise.all(buses.map((b) => b.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe("an allocation through the edge roles on the real broker and contract", () => {
  const [honestIdx, cheaterIdx] = [0, 1];
  const supplier = (i: number) => m.parties.suppliers[i]!;
  const outputTopic = (i: number) => channels.outputs[supplier(i).address.toLowerCase()]!;
  let honestJob: SupplierJob;
  let cheaterJob: SupplierJob;

  async function startSupplier(
    i: number,
    ledger: OutputLedger,
    strategy?: { processProbability: number; cheatMode: "skip" },
    dieAfterPublishing?: { batches: number },
  ) {
    const address = supplier(i).address as Address;
    const bus = await busFor(address);
    const publisher = await outputPublisher(
      bus,
      outputTopic(i),
      `output-${address.toLowerCase()}`,
      ledger.nextSeq(),
    );
    let published = 0;
    const output = {
      async publish(outputs: Parameters<typeof publisher.publish>[0]) {
        await publisher.publish(outputs);
        // Dies with the batch on the broker but neither recorded nor acknowledged: the worst moment.
        if (dieAfterPublishing && ++published >= dieAfterPublishing.batches)
          throw new Error("process killed");
      },
    };
    const sandbox = ServiceSandbox.load(wasm("people-counter"), { expectedHash: d.a.serviceHash });
    const job = new SupplierJob({
      allocationId: d.id,
      supplier: address,
      sandbox,
      ledger,
      input: await subscribeInputs(bus, channels.input, `supplier-${address.toLowerCase()}`),
      output,
      endSeq: total,
      batchSize: 100,
      ...(strategy ? { strategy: { ...strategy, seed: 21 } } : {}),
    });
    return { job, bus, sandbox };
  }

  it("streams every input, and both Suppliers work through it; one crashes and resumes", async () => {
    const customerBus = await busFor(d.a.customer);
    const live = prng(12);
    const own = ServiceSandbox.load(wasm("people-counter"), { expectedHash: d.a.serviceHash });
    const atTests: Array<{ seq: bigint; input: Uint8Array }> = [];
    const feeding = (async () => {
      const publisher = await inputPublisher(
        customerBus,
        channels.input,
        `input-${d.a.customer.toLowerCase()}`,
      );
      await feedInputs({
        publisher,
        inputsPerSecond: 4_000,
        total,
        source: () => syntheticFrame(live),
        sent: tapTests(plan, (seq, input) => atTests.push({ seq, input })),
      });
      // The Customer's own outputs at its test positions.
      const results = await own.process(atTests.map((t) => t.input));
      for (const [k, t] of atTests.entries()) expected.set(t.seq, outputHashOf(results[k]!));
      await own.close();
    })();
    // The honest Supplier processes a few batches, then its process dies right after publishing one.
    const ledgerFile = join(dir, "honest.jsonl");
    const first = await startSupplier(honestIdx, new OutputLedger(ledgerFile), undefined, { batches: 6 });
    await expect(
      (async () => {
        for (;;) await first.job.step(2_000);
      })(),
    ).rejects.toThrow("process killed");
    expect(first.job.progress.processed).toBeGreaterThan(0);
    await first.bus.close();
    await first.sandbox.close();
    const cheater = await startSupplier(cheaterIdx, new OutputLedger(), {
      processProbability: 0.5,
      cheatMode: "skip",
    });
    cheaterJob = cheater.job;
    // It restarts from its ledger; the broker redelivers what it had not acknowledged.
    const restarted = await startSupplier(honestIdx, new OutputLedger(ledgerFile));
    honestJob = restarted.job;
    while (!honestJob.done || !cheaterJob.done) {
      if (!honestJob.done) await honestJob.step(1_000);
      if (!cheaterJob.done) await cheaterJob.step(1_000);
    }
    await feeding;
    expect([...expected.keys()]).toEqual(plan.testSeqs);
    expect(cheaterJob.progress.skipped).toBeGreaterThan(Number(total) / 3);
  });

  it("the honest Supplier's output channel holds every output exactly once, despite the crash", async () => {
    const all = new Set(Array.from({ length: Number(total) }, (_, i) => BigInt(i)));
    const bus = await busFor(d.a.customer);
    const reader = await bus.createReader(outputTopic(honestIdx), { startMessageId: "earliest" });
    const seqs: string[] = [];
    for (;;) {
      try {
        seqs.push((await reader.readNext(2_000)).properties.seq!);
      } catch (e) {
        if (e instanceof PulsarTimeoutError) break;
        throw e;
      }
    }
    expect(seqs.length).toBe(all.size);
    expect(new Set(seqs).size).toBe(all.size);
  });

  it("the Customer gets every output from the replicas and disputes the Supplier that skipped", async () => {
    const bus = await busFor(d.a.customer);
    const delivered = new Set<bigint>();
    const collector = new OutputCollector(plan, d.a.suppliers, (seq) => delivered.add(seq));
    for (const i of [honestIdx, cheaterIdx]) {
      const found = await readStream(
        bus,
        outputTopic(i),
        new Set(Array.from({ length: Number(total) }, (_, k) => BigInt(k))),
      );
      for (const [seq, msg] of found)
        collector.take(supplier(i).address as Address, { seq, payload: msg.payload });
    }
    expect(delivered.size).toBe(Number(total));
    collector.freeze(); // before the reveal
    disputed = collector.disputeMask(d.a.suppliers, expected);
    expect(disputed).toBe(1 << cheaterIdx);
  });

  it("the Mediator re-executes the tests from the retained channels and the contract fines the cheater", async () => {
    const checklist = { allocationId: d.id, salt: plan.salt, testSeqs: [...plan.testSeqs] };
    const gammaC = gammaOfPlan(plan, expected)!;
    const domain = m.domain;
    const results: SignedResult[] = [
      await honestJob.result(checklist, supplier(honestIdx), domain),
      await cheaterJob.result(checklist, supplier(cheaterIdx), domain),
    ];
    const asContract = results.map((r) => ({ seal: r.seal, signature: r.signature }));
    await toEnd(m, d);
    await (
      await as(m, m.parties.customer).getFunction("settle")(
        d.terms,
        plan.salt,
        seqsHashOf(plan),
        gammaC,
        asContract,
        disputed,
      )
    ).wait();

    const mediatorBus = await busFor(d.a.mediator);
    const wanted = new Set(checklist.testSeqs);
    const inputs = await readStream(mediatorBus, channels.input, wanted);
    const published = new Map<Address, Map<bigint, Uint8Array>>();
    for (const i of [honestIdx, cheaterIdx]) {
      const found = await readStream(mediatorBus, outputTopic(i), wanted);
      published.set(supplier(i).address as Address, new Map([...found].map(([s, msg]) => [s, msg.payload])));
    }
    const sandbox = ServiceSandbox.load(wasm("people-counter"), { expectedHash: d.a.serviceHash });
    const finding = await mediate({
      checklist,
      inputs: new Map([...inputs].map(([s, msg]) => [s, msg.payload])),
      published,
      suppliers: d.a.suppliers,
      sandbox,
    });
    await sandbox.close();
    expect(finding.gammaM).toBe(gammaC);
    expect(finding.lazyMask).toBe(1 << cheaterIdx);
    await (
      await as(m, m.parties.mediator).getFunction("mediate")(
        d.terms,
        finding.gammaM as Bytes32,
        finding.lazyMask,
        asContract,
      )
    ).wait();

    const change = delta(initial, await balances(m));
    const { payment: P, deposit: D } = d.amounts;
    const F = m.parameters.allocatorFee;
    expect(change.s0).toBe(P - F); // honest: paid P, deposit back, the Allocator's fee spent
    expect(change.s1).toBe(-(D + F)); // the cheater: fined its deposit, not paid, fee spent
    expect(change.customer).toBeLessThan(0n);
    expect(change.mediator).toBeGreaterThan(0n);
    expect(Object.values(change).reduce((x, y) => x + y, 0n)).toBe(0n); // money conserved
  });
});

describe("a runaway service over the broker", () => {
  it("is contained: the input it loops on is reported as failed and the stream goes on", async () => {
    const address = m.parties.suppliers[2]!.address as Address;
    const b = broker();
    const admin = new PulsarAdmin({ url: b.webUrl, token: b.adminToken });
    const ch = await provisionAllocationChannels(admin, {
      allocationId: `runaway-${Date.now().toString(36)}`,
      customer: d.a.customer,
      suppliers: [address],
      mediator: d.a.mediator,
      allocator: d.a.allocator,
    });
    const customerBus = await busFor(d.a.customer);
    const publisher = await inputPublisher(customerBus, ch.input, "runaway-input");
    await publisher.publish(
      Array.from({ length: 20 }, (_, i) => ({
        seq: BigInt(i),
        eventTimeMs: Date.now(),
        payload: new Uint8Array([i === 7 ? 0xff : i]),
      })),
    );
    const bus = await busFor(address);
    const sandbox = ServiceSandbox.load(wasm("test/loop"), { timeBudgetMs: 50 });
    const job = new SupplierJob({
      allocationId: `0x${"ee".repeat(32)}` as Bytes32,
      supplier: address,
      sandbox,
      ledger: new OutputLedger(),
      input: await subscribeInputs(bus, ch.input, "runaway"),
      output: await outputPublisher(bus, ch.outputs[address.toLowerCase()]!, "runaway-output", 0n),
      endSeq: 20n,
    });
    while (!job.done) await job.step(2_000);
    await sandbox.close();
    expect(job.progress).toMatchObject({ processed: 19, failed: 1 });
    const out = await readStream(customerBus, ch.outputs[address.toLowerCase()]!, new Set([7n, 8n]));
    expect(out.get(7n)!.properties.error).toBe("time budget exceeded (50 ms)");
    expect(out.get(8n)!.payload).toEqual(new Uint8Array([8]));
  });
});
