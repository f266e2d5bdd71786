// One allocation played through the stream and mediation logic with in-memory channels (the
// integration tests do the same over the real broker and chain): an honest and a cheating replica,
// a crash and restart, the Customer's checks and the Mediator's finding.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Address, type Bytes32, recoverSigner, seal } from "@surplus/core";
import { Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  feedInputs,
  gammaOfPlan,
  type InputSubscription,
  isTestPosition,
  liveOutputs,
  mediate,
  OutputCollector,
  OutputLedger,
  outputHashOf,
  type PublishedOutput,
  prepareTestPlan,
  prng,
  type ReceivedInput,
  ServiceSandbox,
  SupplierJob,
  syntheticFrame,
  type TestPlan,
} from "../src/index.ts";

const domain = {
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3" as Address,
};
const allocationId = `0x${"a1".repeat(32)}` as Bytes32;
const honest = new Wallet(`0x${"11".repeat(32)}`);
const cheater = new Wallet(`0x${"22".repeat(32)}`);
const suppliers = [honest.address, cheater.address] as Address[];
const TOTAL = 400n;

/** An input topic with one durable subscription per Supplier: unacked inputs are redelivered. */
class MemoryTopic {
  readonly log: Array<{ seq: bigint; payload: Uint8Array }> = [];
  subscribe(): InputSubscription & { crash(): void } {
    const acked = new Set<bigint>();
    let cursor = 0;
    const inflight = new Set<bigint>();
    const log = this.log;
    return {
      async receive(max: number): Promise<ReceivedInput[]> {
        const out: ReceivedInput[] = [];
        while (cursor < log.length && out.length < max) {
          const m = log[cursor++]!;
          if (acked.has(m.seq)) continue;
          inflight.add(m.seq);
          out.push({
            ...m,
            ack: async () => {
              acked.add(m.seq);
              inflight.delete(m.seq);
            },
          });
        }
        return out;
      },
      crash() {
        cursor = 0; // a restarted consumer gets every unacked input again
        inflight.clear();
      },
    };
  }
}

let sandbox: ServiceSandbox;
let plan: TestPlan;
/** The Customer's own output hashes at its test positions, computed as they passed. */
const expected = new Map<bigint, Bytes32>();
let gammaC: Bytes32;
const dir = mkdtempSync(join(tmpdir(), "stream-"));
const topic = new MemoryTopic();

beforeAll(async () => {
  sandbox = ServiceSandbox.load(readFileSync(new URL("../build/people-counter.wasm", import.meta.url)));
  plan = prepareTestPlan(allocationId, 8, Number(TOTAL));
  const live = prng(4);
  const passing: Array<{ seq: bigint; payload: Uint8Array }> = [];
  await feedInputs({
    publisher: { publish: async (batch) => void topic.log.push(...batch) },
    inputsPerSecond: 1e9,
    total: TOTAL,
    source: () => syntheticFrame(live),
    sent: (batch) => passing.push(...batch.filter((i) => isTestPosition(plan, i.seq))),
  });
  const results = await sandbox.process(passing.map((i) => i.payload));
  for (const [k, i] of passing.entries()) expected.set(i.seq, outputHashOf(results[k]!));
  gammaC = gammaOfPlan(plan, expected)!;
});
afterAll(async () => {
  await sandbox.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("an allocation through the stream and mediation logic", () => {
  const published = new Map<Address, PublishedOutput[]>(suppliers.map((s) => [s, []]));
  let cheaterJob: SupplierJob;
  /** The honest Supplier's job: its ledger file survives from one instance (process) to the next. */
  const honestJob = (input: InputSubscription) =>
    new SupplierJob({
      allocationId,
      supplier: honest.address as Address,
      sandbox,
      ledger: new OutputLedger(join(dir, "honest.jsonl")),
      input,
      output: publisher(honest.address as Address),
      endSeq: TOTAL,
    });
  const publisher = (s: Address) => ({
    publish: async (o: readonly PublishedOutput[]) => void published.get(s)!.push(...o),
  });

  it("feeds every input once, in order; the Customer ran its service on each test position as it passed", () => {
    expect(topic.log.map((m) => m.seq)).toEqual(Array.from({ length: Number(TOTAL) }, (_, i) => BigInt(i)));
    expect([...expected.keys()]).toEqual(plan.testSeqs);
    expect(gammaC).toBeDefined();
  });

  it("an honest Supplier that crashes mid-stream resumes without losing or duplicating an output", async () => {
    const sub = topic.subscribe();
    const first = honestJob(sub);
    for (let i = 0; i < 3; i++) await first.step(0);
    sub.crash();
    const restarted = honestJob(sub);
    while (!restarted.done) await restarted.step(0);
    const seqs = published.get(honest.address as Address)!.map((o) => o.seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(seqs).toHaveLength(Number(TOTAL));
  });

  it("a Supplier that skips inputs publishes fewer outputs", async () => {
    const job = new SupplierJob({
      allocationId,
      supplier: cheater.address as Address,
      sandbox,
      ledger: new OutputLedger(),
      input: topic.subscribe(),
      output: publisher(cheater.address as Address),
      endSeq: TOTAL,
      strategy: { processProbability: 0.5, cheatMode: "skip", seed: 5 },
    });
    while (!job.done) await job.step(0);
    expect(job.progress.skipped).toBeGreaterThan(100);
    expect(published.get(cheater.address as Address)!.length).toBe(Number(TOTAL) - job.progress.skipped);
    cheaterJob = job; // answers the checklist below
  });

  it("the Customer delivers every input's output once, from whichever replica answered first, and disputes the cheater", () => {
    const downstream: bigint[] = [];
    const collector = new OutputCollector(plan, suppliers, (seq) => downstream.push(seq));
    for (const s of suppliers) for (const o of published.get(s)!) collector.take(s, o);
    expect(new Set(downstream).size).toBe(Number(TOTAL));
    expect(collector.disputeMask(suppliers, expected)).toBe(0b10);
    expect(collector.rightTests(suppliers[0]!, expected)).toEqual(plan.testSeqs);
  });

  it("answers at the test positions that come after the freeze (the reveal) do not count: the late Supplier stays disputed", () => {
    const collector = new OutputCollector(plan, suppliers, () => undefined);
    for (const o of published.get(suppliers[0]!)!) collector.take(suppliers[0]!, o);
    collector.freeze();
    // The right outputs at every test position, sent once the positions are known.
    const honestAt = new Map(published.get(suppliers[0]!)!.map((o) => [o.seq, o]));
    for (const seq of plan.testSeqs) collector.take(suppliers[1]!, honestAt.get(seq)!);
    expect(collector.rightTests(suppliers[1]!, expected)).toEqual([]);
    expect(collector.disputeMask(suppliers, expected)).toBe(0b10);
  });

  it("seals: the honest Supplier's matches the Customer's γ, the cheater's does not; both are signed", async () => {
    const checklist = { allocationId, salt: plan.salt, testSeqs: [...plan.testSeqs] };
    const honestResult = honestJob(topic.subscribe());
    const good = await honestResult.result(checklist, honest, domain);
    expect(good.seal).toBe(seal(honest.address as Address, allocationId, gammaC));
    expect(
      recoverSigner(
        domain,
        "SupplierResult",
        { allocationId, account: good.supplier, seal: good.seal },
        good.signature,
      ),
    ).toBe(honest.address);
    const bad = await cheaterJob.result(checklist, cheater, domain);
    expect(bad.seal).not.toBe(seal(cheater.address as Address, allocationId, gammaC));
  });

  it("the Mediator recomputes the Customer's γ and finds the cheater lazy", async () => {
    const inputs = new Map(plan.testSeqs.map((seq) => [seq, topic.log[Number(seq)]!.payload]));
    const outputsAt = (s: Address) => new Map(published.get(s)!.map((o) => [o.seq, o.payload]));
    const finding = await mediate({
      checklist: { allocationId, salt: plan.salt, testSeqs: [...plan.testSeqs] },
      inputs,
      published: new Map(suppliers.map((s) => [s, outputsAt(s)])),
      suppliers,
      sandbox,
    });
    expect(finding.gammaM).toBe(gammaC);
    expect(finding.lazyMask).toBe(0b10);
  });
});

describe("a front-running lazy Supplier before the Mediator", () => {
  it("its outputs published after the checklist do not count: the Mediator finds it lazy, the honest one not", async () => {
    const revealedAt = 10_000;
    const inputs = new Map(plan.testSeqs.map((seq) => [seq, topic.log[Number(seq)]!.payload]));
    const results = await sandbox.process([...inputs.values()]);
    const right = new Map(
      plan.testSeqs.map((seq, k) => [seq, (results[k] as { output: Uint8Array }).output]),
    );
    // The honest one published during the stream; the front-runner the same right outputs, late.
    const honestMsgs = plan.testSeqs.map((seq) => ({ seq, payload: right.get(seq)!, publishTime: 5_000 }));
    const lateMsgs = plan.testSeqs.map((seq) => ({
      seq,
      payload: right.get(seq)!,
      publishTime: revealedAt + 1,
    }));
    const wanted = new Set(plan.testSeqs);
    const honestLive = liveOutputs(honestMsgs, wanted, revealedAt);
    const lateLive = liveOutputs(lateMsgs, wanted, revealedAt);
    expect(honestLive).toEqual({ live: right, late: 0 });
    expect(lateLive).toEqual({ live: new Map(), late: plan.testSeqs.length });
    // A wrong live output is kept (the first per position), a right one after the reveal is not.
    const mixed = liveOutputs(
      [
        { seq: plan.testSeqs[0]!, payload: new Uint8Array([9]), publishTime: 1 },
        { seq: plan.testSeqs[0]!, payload: right.get(plan.testSeqs[0]!)!, publishTime: 2 },
      ],
      wanted,
      revealedAt,
    );
    expect(mixed.live.get(plan.testSeqs[0]!)).toEqual(new Uint8Array([9]));
    const finding = await mediate({
      checklist: { allocationId, salt: plan.salt, testSeqs: [...plan.testSeqs] },
      inputs,
      published: new Map([
        [suppliers[0]!, honestLive.live],
        [suppliers[1]!, lateLive.live],
      ]),
      suppliers,
      sandbox,
    });
    expect(finding.gammaM).toBe(gammaC);
    expect(finding.lazyMask).toBe(0b10);
  });
});

describe("a Supplier job on an input channel that carries some inputs twice", () => {
  // The Customer's input channel is batched: a Customer restarted between an entry's
  // acknowledgement and saving its progress sends those inputs again, so a seq can come back in
  // the same receive, while its first copy is in flight, or long after it was recorded.
  const END = 120n;
  function duplicatingTopic(): MemoryTopic {
    const t = new MemoryTopic();
    const at = (seq: bigint) => ({ seq, payload: new Uint8Array([Number(seq) & 0xff]) });
    for (let s = 0n; s < END; s++) {
      t.log.push(at(s));
      if (s % 7n === 3n) t.log.push(at(s)); // right behind: the same receive
      if (s === 90n) for (let r = 10n; r < 40n; r++) t.log.push(at(r)); // long recorded
    }
    for (let r = 100n; r < END; r++) t.log.push(at(r)); // a re-sent tail
    return t;
  }

  for (const [label, strategy] of [
    ["an honest one", undefined],
    ["one that skips half", { processProbability: 0.5, cheatMode: "skip", seed: 9 }],
  ] as const) {
    it(`${label} handles each seq once and is done only after the last`, async () => {
      const outputs: PublishedOutput[] = [];
      const job = new SupplierJob({
        allocationId,
        supplier: honest.address as Address,
        sandbox,
        ledger: new OutputLedger(),
        input: duplicatingTopic().subscribe(),
        output: { publish: async (o) => void outputs.push(...o) },
        endSeq: END,
        batchSize: 16,
        ...(strategy ? { strategy } : {}),
      });
      let steps = 0;
      while (!job.done && steps++ < 1_000) await job.step(0);
      await job.flush();
      const seqs = outputs.map((o) => o.seq);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs.length + job.progress.skipped).toBe(Number(END));
      expect(job.progress.duplicates).toBeGreaterThanOrEqual(17); // at least those in the same receive
      expect(job.progress.lastSeq).toBe(END - 1n);
    });
  }
});
