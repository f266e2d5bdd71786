// The Customer agent (paper §3.2–§3.4): publishes its service (content-addressed), posts its offer,
// and for each allocation it gets: draws n secret positions of its live stream and a salt and
// commits to them in its Accept (Γ); when the allocation runs, streams its source at λ — the test
// positions are ordinary live inputs — and runs its own copy of the service on the inputs at those
// positions as they pass; takes every replica's outputs and delivers the first good one per input
// downstream; after the end freezes which replicas answered a test position wrongly or not at all
// (the dispute mask), reveals the checklist, collects the Suppliers' sealed results and settles
// with the mask in one transaction, which only it may send (issue 14 threat 1). Restartable: the
// plan, the stream position and its own test outputs are stored before they are used.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allocationChannels, PulsarTimeoutError, type Reader } from "@surplus/adapters/pulsar";
import { NO_RESULT } from "@surplus/contracts";
import {
  type Address,
  type Allocation,
  AllocationState,
  type Bytes32,
  type CustomerOffer,
  SCHEMA_VERSION,
  toWire,
} from "@surplus/core";
import { MarketRevertError } from "../channels/chain.ts";
import { inputPublisher, seqOf } from "../channels/pulsar.ts";
import type { ChainRecord, InputPublisher, SignedResult } from "../ports.ts";
import { ServiceSandbox, serviceHash } from "../sandbox/index.ts";
import type { InputSource } from "../sources/index.ts";
import { feedInputs, OutputCollector, tapTests } from "../stream/customer-stream.ts";
import {
  gammaOfPlan,
  isTestPosition,
  outputHashOf,
  prepareTestPlan,
  seqsHashOf,
  type TestPlan,
} from "../verification/test-plan.ts";
import { Agent, type AgentOptions, type AllocationProgress, sleep } from "./agent.ts";
import type { StoredAllocation } from "./store.ts";

export interface CustomerJob {
  /** The service's WebAssembly module; its keccak256 is the id the offer and allocation name. */
  readonly wasm: Uint8Array;
  readonly serviceName: string;
  /** I_c, million instructions per input. */
  readonly miPerInput: number;
  readonly ramMb: number;
  /** λ, inputs per second. */
  readonly inputsPerSecond: number;
  /** How long the service should run, seconds. */
  readonly seconds: number;
  /** Seconds from posting the offer to the stream's start: time to match and open (δ_alloc + δ_setup). @default 12 */
  readonly startInSeconds?: number;
  /** π_c,max per million instructions, token base units. */
  readonly maxPricePerMi: bigint;
  readonly replicas: number;
  /** @default 1 */
  readonly minReplicas?: number;
  /** @default half of `seconds`, at most 20 */
  readonly minServiceSeconds?: number;
  readonly mediators: readonly Address[];
  /** Signed into the offer: at most `maxMediationsLost` lost in each Supplier's last `windowAllocations`. @default none */
  readonly requires?: { readonly windowAllocations: number; readonly maxMediationsLost: number };
}

export interface CustomerAgentOptions extends AgentOptions {
  readonly job: CustomerJob;
  readonly source: InputSource;
  /** Where the first good output of each input goes (downstream). At least once across restarts. */
  readonly deliver?: (seq: bigint, output: Uint8Array, from: Address) => void;
  /** How long to wait for the Suppliers' sealed results after the reveal. @default a third of the reveal window, at most 30 s */
  readonly resultWaitMs?: number;
  /** Folder where the service is published for Suppliers, as `<hash>.wasm`. */
  readonly publishServiceTo?: string;
  /** For experiments: when false, the Customer never reveals nor settles (withholds γ). @default true */
  readonly reveal?: boolean;
}

interface WirePlan {
  readonly salt: Bytes32;
  readonly commitment: Bytes32;
  readonly testSeqs: readonly string[];
}

export interface CustomerState extends AllocationProgress {
  /** allocated → accepted → streaming → streamed → revealed → settled → closed (or lapsed). */
  phase: "allocated" | "accepted" | "streaming" | "streamed" | "revealed" | "settled" | "closed" | "lapsed";
  commitment: Bytes32;
  plan: WirePlan;
  /** The next input to send (resume point). */
  nextSeq: string;
  /** The Customer's own output hash at each test position it has run (seq → keccak256(output)). */
  expected: Record<string, Bytes32>;
  /**
   * Inputs sent at test positions not run yet (seq → base64), stored with the stream position, so
   * a restart runs them: the Customer may not read its input channel back (produce-only grant).
   */
  pendingTests?: Record<string, string>;
  /** The dispute mask, frozen from the live outputs before the checklist is revealed. */
  disputed?: number;
  /** Outputs delivered downstream (this run). */
  delivered?: number;
}

const toPlan = (id: Bytes32, w: WirePlan): TestPlan => ({
  allocationId: id,
  salt: w.salt,
  commitment: w.commitment,
  testSeqs: w.testSeqs.map(BigInt),
});
const fromPlan = (p: TestPlan): WirePlan => ({
  salt: p.salt,
  commitment: p.commitment,
  testSeqs: p.testSeqs.map(String),
});
const expectedOf = (state: CustomerState) =>
  new Map(Object.entries(state.expected ?? {}).map(([k, v]) => [BigInt(k), v]));

export class CustomerAgent extends Agent<CustomerState> {
  override readonly options: CustomerAgentOptions;
  readonly serviceHash: Bytes32;
  #offer: CustomerOffer | undefined;

  constructor(options: CustomerAgentOptions) {
    super("customer", options);
    this.options = options;
    this.serviceHash = serviceHash(options.job.wasm);
  }

  get offer(): CustomerOffer | undefined {
    return this.#offer;
  }

  /** True once its offer is over and every allocation it got has closed or lapsed. */
  finished(nowS = Date.now() / 1000): boolean {
    if (!this.#offer) return false;
    const all = [...this.allocations.values()];
    const open = all.some((d) => d.state.phase !== "closed" && d.state.phase !== "lapsed");
    return !open && (all.length > 0 || nowS > this.#offer.end);
  }

  protected isParty(a: Allocation): boolean {
    return a.customer.toLowerCase() === this.address.toLowerCase();
  }

  protected revive(raw: unknown): CustomerState {
    return raw as CustomerState;
  }

  /**
   * Draws this allocation's secret checklist — n positions of the live stream and a salt — and the
   * commitment Γ its Accept carries. Nothing is run yet: the tests are live inputs, whose outputs
   * the Customer computes as they pass.
   */
  protected async begin(a: Allocation, id: Bytes32): Promise<{ state: CustomerState; commitment: Bytes32 }> {
    if (a.serviceHash !== this.serviceHash)
      throw new Error(`names service ${a.serviceHash}, but this Customer runs ${this.serviceHash}`);
    const plan = prepareTestPlan(id, a.testCount, a.inputsPerSecond * (a.end - a.start));
    return {
      state: {
        phase: "allocated",
        commitment: plan.commitment,
        plan: fromPlan(plan),
        nextSeq: "0",
        expected: {},
      },
      commitment: plan.commitment,
    };
  }

  protected override async onStart(): Promise<void> {
    if (this.options.publishServiceTo) {
      mkdirSync(this.options.publishServiceTo, { recursive: true });
      writeFileSync(join(this.options.publishServiceTo, `${this.serviceHash}.wasm`), this.options.job.wasm);
    }
    // One offer per job: a restarted Customer does not post it again.
    const file = join(this.options.dataDir, "offer.json");
    if (existsSync(file)) {
      this.#offer = JSON.parse(readFileSync(file, "utf8"), (k, v) =>
        k === "nonce" || k === "maxPricePerMi" ? BigInt(v) : v,
      ) as CustomerOffer;
      return;
    }
    await this.postOffer(file);
  }

  /** Posts the signed offer for this Customer's job (paper ①); the Allocator chunks long ones. */
  async postOffer(file = join(this.options.dataDir, "offer.json")): Promise<CustomerOffer> {
    const j = this.options.job;
    const start = Math.floor(Date.now() / 1000) + (j.startInSeconds ?? 12);
    const offer: CustomerOffer = {
      kind: "customer",
      schemaVersion: SCHEMA_VERSION,
      account: this.address,
      nonce: BigInt(Date.now()),
      serviceName: j.serviceName,
      serviceHash: this.serviceHash,
      miPerInput: j.miPerInput,
      ramMb: j.ramMb,
      inputsPerSecond: j.inputsPerSecond,
      start,
      end: start + j.seconds,
      maxPricePerMi: j.maxPricePerMi,
      replicas: j.replicas,
      minReplicas: j.minReplicas ?? 1,
      minServiceSeconds: j.minServiceSeconds ?? Math.max(1, Math.min(20, Math.floor(j.seconds / 2))),
      mediators: [...j.mediators],
      ...(j.requires ?? {}),
    };
    await this.publishOffer("CustomerOffer", offer);
    writeFileSync(file, toWire(offer));
    this.#offer = offer;
    this.log("offer.posted", {
      service: offer.serviceHash,
      serviceName: offer.serviceName,
      replicas: offer.replicas,
      inputsPerSecond: offer.inputsPerSecond,
      miPerInput: offer.miPerInput,
      start: offer.start,
      end: offer.end,
      maxPricePerMi: offer.maxPricePerMi.toString(),
    });
    return offer;
  }

  protected async advance(stored: StoredAllocation<CustomerState>, record: ChainRecord): Promise<void> {
    if (record.state === AllocationState.Running && stored.state.phase === "accepted")
      this.save(stored, "streaming");
    const p = stored.state.phase;
    const withheld = this.options.reveal === false && p === "streamed";
    if (
      record.state === AllocationState.Running &&
      !withheld &&
      (p === "streaming" || p === "streamed" || p === "revealed")
    )
      this.spawn(stored, "stream", () => this.#run(stored, record.suppliers));
    if (record.state === AllocationState.MediationRequested && p !== "settled") this.save(stored, "settled");
  }

  /**
   * ⑤ stream (running the service on the inputs at the test positions as they pass), freeze the
   * dispute mask, ⑥ reveal the checklist, collect the sealed results, ⑧ settle with the mask —
   * resumable from each stored phase.
   */
  async #run(stored: StoredAllocation<CustomerState>, running: number): Promise<void> {
    const a = stored.allocation;
    const ch = allocationChannels(stored.id, a.suppliers, this.options.layout);
    const plan = toPlan(stored.id, stored.state.plan);
    stored.state.expected ??= {};
    const total = BigInt(a.inputsPerSecond * (a.end - a.start));
    stored.state.delivered = 0;
    const collector = new OutputCollector(plan, a.suppliers, (seq, output, from) => {
      stored.state.delivered!++;
      this.options.deliver?.(seq, output, from);
    });
    const results = new Map<Address, SignedResult>();
    let reading = true;
    const readers = await Promise.all(
      a.suppliers.map((s) =>
        this.options.bus.createReader(ch.outputs[s.toLowerCase()]!, { startMessageId: "earliest" }),
      ),
    );
    const loops = readers.map((reader, i) =>
      this.#readOutputs(reader, a.suppliers[i]!, collector, results, () => reading),
    );
    const progress = setInterval(
      () =>
        this.log("stream.progress", {
          allocation: stored.id,
          sent: stored.state.nextSeq,
          delivered: stored.state.delivered,
          total: total.toString(),
        }),
      10_000,
    );
    const runningSuppliers = a.suppliers.filter((_, i) => (running & (1 << i)) !== 0);
    try {
      if (stored.state.phase === "streaming") {
        while (this.running && Date.now() / 1000 < a.start) await sleep(100);
        const tests = new TestRunner(this.options.job.wasm, a.serviceHash, (seq, hash, error) => {
          stored.state.expected[seq.toString()] = hash;
          delete stored.state.pendingTests?.[seq.toString()];
          this.store.save(stored);
          if (error) this.log("test.failed", { allocation: stored.id, seq: seq.toString(), error });
        });
        const inner = await inputPublisher(this.options.bus, ch.input, `input-${this.address}`);
        const publisher: InputPublisher = {
          publish: async (batch) => {
            await inner.publish(batch);
            stored.state.pendingTests ??= {};
            const pending = stored.state.pendingTests;
            for (const i of batch)
              if (isTestPosition(plan, i.seq))
                pending[i.seq.toString()] = Buffer.from(i.payload).toString("base64");
            stored.state.nextSeq = (batch[batch.length - 1]!.seq + 1n).toString();
            this.store.save(stored);
          },
        };
        const ctl = new AbortController();
        const watchStop = setInterval(() => !this.running && ctl.abort(), 200);
        this.log("stream.started", {
          allocation: stored.id,
          from: stored.state.nextSeq,
          total: total.toString(),
          tests: plan.testSeqs.length,
        });
        try {
          await feedInputs({
            publisher,
            inputsPerSecond: a.inputsPerSecond,
            total,
            fromSeq: BigInt(stored.state.nextSeq),
            source: () => this.options.source.next(),
            // After the batch is out, so a test position costs the stream no time.
            sent: tapTests(plan, (seq, input) => tests.run(seq, input)),
            signal: ctl.signal,
          });
        } finally {
          clearInterval(watchStop);
          await inner.close().catch(() => undefined);
          await tests.close();
        }
        if (!this.running) return;
        this.save(stored, "streamed");
      }
      if (this.options.reveal === false) {
        this.log("reveal.withheld", { allocation: stored.id });
        return;
      }
      if (stored.state.phase === "streamed") {
        // Let the end pass on the chain (settle needs it) and the last outputs arrive: answers at
        // the test positions count until every running replica gave them, at most a tenth of the
        // reveal window (4–15 s) after the end — a replica further behind is not live.
        while (this.running && Date.now() / 1000 < a.end + 1) await sleep(200);
        const { reveal: revealS } = await this.options.chain.windows();
        const until = Date.now() + Math.min(15_000, Math.max(4_000, revealS * 100));
        const answered = () =>
          runningSuppliers.every((s) => collector.replicas.get(s)!.atTests.size === plan.testSeqs.length);
        while (this.running && Date.now() < until && (stored.state.delivered! < Number(total) || !answered()))
          await sleep(100);
        if (!this.running) return;
        await this.#completeTests(stored, plan);
        // Frozen before the reveal: an answer that comes once the positions are known is not live.
        collector.freeze();
        const expected = expectedOf(stored.state);
        // A mask stored before a crash was frozen before any reveal: keep it.
        stored.state.disputed ??= collector.disputeMask(a.suppliers, expected) & running;
        this.log("stream.ended", {
          allocation: stored.id,
          delivered: stored.state.delivered,
          total: total.toString(),
          disputed: stored.state.disputed,
        });
        a.suppliers.forEach((s, i) => {
          this.log("replica.checked", {
            allocation: stored.id,
            supplier: s,
            rightTests: collector.rightTests(s, expected).length,
            tests: plan.testSeqs.length,
            outputs: collector.replicas.get(s)!.outputs,
            disputed: (stored.state.disputed! & (1 << i)) !== 0,
          });
        });
        this.store.save(stored);
        const producer = await this.options.bus.createProducer(ch.checklist, {
          producerName: `checklist-${this.address}`,
        });
        try {
          await producer.send({
            payload: new TextEncoder().encode(
              toWire({ allocationId: stored.id, salt: plan.salt, testSeqs: plan.testSeqs }),
            ),
            properties: { type: "Checklist" },
          });
        } finally {
          await producer.close().catch(() => undefined);
        }
        this.save(stored, "revealed");
      }
      if (stored.state.phase !== "revealed") return;
      const gammaC = gammaOfPlan(plan, expectedOf(stored.state));
      if (!gammaC) throw new Error("the Customer's own outputs at the test positions are incomplete");
      const reveal = (await this.options.chain.windows()).reveal;
      const waitUntil = Date.now() + (this.options.resultWaitMs ?? Math.min(30_000, (reveal * 1000) / 3));
      while (this.running && Date.now() < waitUntil && runningSuppliers.some((s) => !results.has(s)))
        await sleep(100);
      if (!this.running) return;
      const mask = stored.state.disputed ?? 0;
      const args = a.suppliers.map((s) => {
        const r = results.get(s);
        return r ? { seal: r.seal, signature: r.signature } : NO_RESULT;
      });
      this.log("results.collected", {
        allocation: stored.id,
        results: a.suppliers.filter((s) => results.has(s)).length,
        disputed: mask,
      });
      // The chain's clock may trail the wall clock by a second or two: settle as soon as the
      // contract sees the end (DeadlineNotReached), for at most 30 s.
      const settled = await this.tx("settle", stored, async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await this.options.chain.settle(a, plan.salt, seqsHashOf(plan), gammaC, args, mask);
          } catch (error) {
            const early = error instanceof MarketRevertError && error.errorName === "DeadlineNotReached";
            if (!early || attempt >= 30 || !this.running) throw error;
            await sleep(1_000);
          }
        }
      });
      if (settled || (await this.options.chain.recordOf(stored.id)).state !== AllocationState.Running)
        this.save(stored, "settled");
    } finally {
      clearInterval(progress);
      reading = false;
      await Promise.allSettled(loops);
      await Promise.allSettled(readers.map((r) => r.close()));
    }
  }

  /**
   * Runs the service on test positions it has no output for yet: their inputs were stored with the
   * stream position, and a restart mid-stream lost the queued executions.
   */
  async #completeTests(stored: StoredAllocation<CustomerState>, plan: TestPlan): Promise<void> {
    const missing = plan.testSeqs.filter((seq) => stored.state.expected[seq.toString()] === undefined);
    if (missing.length === 0) return;
    const runner = new TestRunner(this.options.job.wasm, this.serviceHash, (seq, hash) => {
      stored.state.expected[seq.toString()] = hash;
      delete stored.state.pendingTests?.[seq.toString()];
    });
    for (const seq of missing) {
      const input = stored.state.pendingTests?.[seq.toString()];
      if (input !== undefined) runner.run(seq, new Uint8Array(Buffer.from(input, "base64")));
    }
    await runner.close();
    this.store.save(stored);
    this.log("tests.recovered", { allocation: stored.id, missing: missing.length });
  }

  /** One replica's output channel: outputs into the collector, its sealed result into `results`. */
  async #readOutputs(
    reader: Reader,
    supplier: Address,
    collector: OutputCollector,
    results: Map<Address, SignedResult>,
    keepGoing: () => boolean,
  ): Promise<void> {
    while (keepGoing()) {
      let m: Awaited<ReturnType<Reader["readNext"]>>;
      try {
        m = await reader.readNext(500);
      } catch (e) {
        if (e instanceof PulsarTimeoutError) continue;
        if (keepGoing()) this.log("outputs.read-failed", { supplier, error: (e as Error).message });
        return;
      }
      if (m.properties.type === "result") {
        try {
          const r = JSON.parse(new TextDecoder().decode(m.payload)) as SignedResult;
          if (r.supplier?.toLowerCase() === supplier.toLowerCase()) results.set(supplier, r);
        } catch {
          this.counters.badMessages++;
        }
        continue;
      }
      const seq = seqOf(m);
      if (seq === undefined) continue;
      collector.take(supplier, {
        seq,
        payload: m.payload,
        ...(m.properties.error ? { error: m.properties.error } : {}),
      });
    }
  }
}

/**
 * The Customer's own execution of the service on the inputs at its test positions, one at a time
 * in the background, so the stream never waits for it. A failure stands for the empty output, as a
 * Supplier publishes it.
 */
class TestRunner {
  readonly #sandbox: ServiceSandbox;
  readonly #done: (seq: bigint, outputHash: Bytes32, error?: string) => void;
  #queue: Promise<void> = Promise.resolve();

  constructor(
    wasm: Uint8Array,
    hash: Bytes32,
    done: (seq: bigint, outputHash: Bytes32, error?: string) => void,
  ) {
    this.#sandbox = ServiceSandbox.load(wasm, { expectedHash: hash });
    this.#done = done;
  }

  run(seq: bigint, input: Uint8Array): void {
    this.#queue = this.#queue
      .then(async () => {
        const [r] = await this.#sandbox.process([input]);
        this.#done(seq, outputHashOf(r!), r!.ok ? undefined : r!.error);
      })
      // The sandbox itself failed: the position stays without output, and its stored input is
      // run again before the reveal.
      .catch(() => undefined);
  }

  /** Waits for the queued executions, then frees the sandbox. */
  async close(): Promise<void> {
    try {
      await this.#queue;
    } finally {
      await this.#sandbox.close();
    }
  }
}
