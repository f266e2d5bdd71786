// The Customer agent (paper §3.2–§3.4): publishes its service (content-addressed), posts its offer,
// and for each allocation it gets: prepares n hidden test inputs and their outputs with its own
// copy of the service and commits to them in its Accept (Γ); when the allocation runs, streams its
// source at λ with the tests mixed in at secret positions; takes every replica's outputs and
// delivers the first good one per input downstream; after the end reveals the checklist, collects
// the Suppliers' sealed results, disputes the replicas that failed a test on the live stream and
// settles. Restartable: the plan and the stream position are stored before they are used.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allocationChannels, PulsarTimeoutError, type Reader } from "@surplus/adapters/pulsar";
import { NO_RESULT } from "@surplus/contracts";
import {
  type Address,
  type Allocation,
  type Bytes32,
  type CustomerOffer,
  SCHEMA_VERSION,
  toWire,
} from "@surplus/core";
import { MarketRevertError } from "../channels/chain.ts";
import { inputPublisher, seqOf } from "../channels/pulsar.ts";
import type { ChainRecord, InputPublisher, SignedResult } from "../ports.ts";
import { feedInputs, OutputCollector } from "../roles/customer.ts";
import { ServiceSandbox, serviceHash } from "../sandbox/index.ts";
import type { InputSource } from "../sources/index.ts";
import { prepareTestPlan, type TestPlan } from "../verification/test-plan.ts";
import { Agent, type AgentOptions, ChainState, type DealState, sleep } from "./agent.ts";
import type { StoredDeal } from "./store.ts";

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
  readonly gamma: Bytes32;
  readonly commitment: Bytes32;
  readonly tests: ReadonlyArray<{ seq: string; input: string; outputHash: Bytes32 }>;
}

export interface CustomerState extends DealState {
  /** allocated → accepted → streaming → streamed → revealed → settled → closed (or lapsed). */
  phase: "allocated" | "accepted" | "streaming" | "streamed" | "revealed" | "settled" | "closed" | "lapsed";
  commitment: Bytes32;
  plan: WirePlan;
  /** The next input to send (resume point). */
  nextSeq: string;
  /** Outputs delivered downstream (this run). */
  delivered?: number;
}

const toPlan = (w: WirePlan): TestPlan => ({
  salt: w.salt,
  gamma: w.gamma,
  commitment: w.commitment,
  tests: w.tests.map((t) => ({
    seq: BigInt(t.seq),
    input: new Uint8Array(Buffer.from(t.input, "base64")),
    outputHash: t.outputHash,
  })),
});
const fromPlan = (p: TestPlan): WirePlan => ({
  salt: p.salt,
  gamma: p.gamma,
  commitment: p.commitment,
  tests: p.tests.map((t) => ({
    seq: t.seq.toString(),
    input: Buffer.from(t.input).toString("base64"),
    outputHash: t.outputHash,
  })),
});

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
    const all = [...this.deals.values()];
    const open = all.some((d) => d.state.phase !== "closed" && d.state.phase !== "lapsed");
    return !open && (all.length > 0 || nowS > this.#offer.end);
  }

  protected isParty(a: Allocation): boolean {
    return a.customer.toLowerCase() === this.address.toLowerCase();
  }

  protected revive(raw: unknown): CustomerState {
    return raw as CustomerState;
  }

  /** Prepares the hidden tests of this allocation and the commitment Γ its Accept carries. */
  protected async begin(a: Allocation, id: Bytes32): Promise<{ state: CustomerState; commitment: Bytes32 }> {
    if (a.serviceHash !== this.serviceHash)
      throw new Error(`names service ${a.serviceHash}, but this Customer runs ${this.serviceHash}`);
    // The tests are sample inputs the service answers: a failure (a trap, or a time budget that
    // depends on the machine) has no output to commit to. Samples it fails on are drawn again, up
    // to four times the tests needed.
    const inputs: Uint8Array[] = [];
    const outputs: Uint8Array[] = [];
    const failures: string[] = [];
    let drawn = 0;
    const sandbox = ServiceSandbox.load(this.options.job.wasm, { expectedHash: a.serviceHash });
    try {
      while (inputs.length < a.testCount && drawn < 4 * a.testCount) {
        const batch = await this.options.source.samples(a.testCount - inputs.length);
        if (batch.length === 0) break;
        drawn += batch.length;
        (await sandbox.process(batch)).forEach((r, i) => {
          if (!r.ok) failures.push(r.error);
          else {
            inputs.push(batch[i]!);
            outputs.push(r.output);
          }
        });
      }
    } finally {
      await sandbox.close();
    }
    if (inputs.length < a.testCount)
      throw new Error(
        `the service answered ${inputs.length} of ${drawn} sample inputs, and ${a.testCount} tests are needed ` +
          `(failures: ${[...new Set(failures)].join("; ")})`,
      );
    if (failures.length)
      this.log("tests.redrawn", { allocation: id, failed: failures.length, reasons: [...new Set(failures)] });
    const plan = prepareTestPlan(inputs, outputs, a.inputsPerSecond * (a.end - a.start));
    return {
      state: { phase: "allocated", commitment: plan.commitment, plan: fromPlan(plan), nextSeq: "0" },
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

  protected async advance(deal: StoredDeal<CustomerState>, record: ChainRecord): Promise<void> {
    if (record.state === ChainState.Running && deal.state.phase === "accepted") this.save(deal, "streaming");
    const p = deal.state.phase;
    const withheld = this.options.reveal === false && p === "streamed";
    if (
      record.state === ChainState.Running &&
      !withheld &&
      (p === "streaming" || p === "streamed" || p === "revealed")
    )
      this.spawn(deal, "stream", () => this.#run(deal, record.suppliers));
    if (record.state === ChainState.MediationRequested && p !== "settled") this.save(deal, "settled");
  }

  /** ⑤ stream, ⑥ reveal, ⑧ dispute and settle — resumable from each stored phase. */
  async #run(deal: StoredDeal<CustomerState>, running: number): Promise<void> {
    const a = deal.allocation;
    const ch = allocationChannels(deal.id, a.suppliers, this.options.layout);
    const plan = toPlan(deal.state.plan);
    const total = BigInt(a.inputsPerSecond * (a.end - a.start));
    deal.state.delivered = 0;
    const collector = new OutputCollector(plan, a.suppliers, (seq, output, from) => {
      deal.state.delivered!++;
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
          allocation: deal.id,
          sent: deal.state.nextSeq,
          delivered: deal.state.delivered,
          total: total.toString(),
        }),
      10_000,
    );
    try {
      if (deal.state.phase === "streaming") {
        while (this.running && Date.now() / 1000 < a.start) await sleep(100);
        const inner = await inputPublisher(this.options.bus, ch.input, `input-${this.address}`);
        const publisher: InputPublisher = {
          publish: async (batch) => {
            await inner.publish(batch);
            deal.state.nextSeq = (batch[batch.length - 1]!.seq + 1n).toString();
            this.store.save(deal);
          },
        };
        const ctl = new AbortController();
        const watchStop = setInterval(() => !this.running && ctl.abort(), 200);
        this.log("stream.started", {
          allocation: deal.id,
          from: deal.state.nextSeq,
          total: total.toString(),
          tests: plan.tests.length,
        });
        try {
          await feedInputs({
            plan,
            publisher,
            inputsPerSecond: a.inputsPerSecond,
            total,
            fromSeq: BigInt(deal.state.nextSeq),
            source: () => this.options.source.next(),
            signal: ctl.signal,
          });
        } finally {
          clearInterval(watchStop);
          await inner.close().catch(() => undefined);
        }
        if (!this.running) return;
        this.save(deal, "streamed");
      }
      if (this.options.reveal === false) {
        this.log("reveal.withheld", { allocation: deal.id });
        return;
      }
      if (deal.state.phase === "streamed") {
        // Let the end pass on the chain (settle needs it) and the last outputs arrive.
        while (this.running && Date.now() / 1000 < a.end + 1) await sleep(200);
        const until = Date.now() + 3_000;
        while (this.running && Date.now() < until && deal.state.delivered! < Number(total)) await sleep(100);
        if (!this.running) return;
        this.log("stream.ended", {
          allocation: deal.id,
          delivered: deal.state.delivered,
          total: total.toString(),
        });
        const producer = await this.options.bus.createProducer(ch.checklist, {
          producerName: `checklist-${this.address}`,
        });
        try {
          await producer.send({
            payload: new TextEncoder().encode(
              toWire({ allocationId: deal.id, salt: plan.salt, testSeqs: plan.tests.map((t) => t.seq) }),
            ),
            properties: { type: "Checklist" },
          });
        } finally {
          await producer.close().catch(() => undefined);
        }
        this.save(deal, "revealed");
      }
      if (deal.state.phase !== "revealed") return;
      const runningSuppliers = a.suppliers.filter((_, i) => (running & (1 << i)) !== 0);
      const reveal = (await this.options.chain.windows()).reveal;
      const waitUntil = Date.now() + (this.options.resultWaitMs ?? Math.min(30_000, (reveal * 1000) / 3));
      while (this.running && Date.now() < waitUntil && runningSuppliers.some((s) => !results.has(s)))
        await sleep(100);
      if (!this.running) return;
      const mask = collector.disputeMask(a.suppliers) & running;
      a.suppliers.forEach((s, i) => {
        const r = collector.replicas.get(s)!;
        this.log("replica.checked", {
          allocation: deal.id,
          supplier: s,
          rightTests: r.rightTests.length,
          tests: plan.tests.length,
          outputs: r.outputs,
          result: results.has(s),
          disputed: (mask & (1 << i)) !== 0,
        });
      });
      if (mask) await this.tx("dispute", deal, () => this.options.chain.dispute(a, mask));
      const args = a.suppliers.map((s) => {
        const r = results.get(s);
        return r ? { seal: r.seal, signature: r.signature } : NO_RESULT;
      });
      // The chain's clock may trail the wall clock by a second or two: settle as soon as the
      // contract sees the end (DeadlineNotReached), for at most 30 s.
      const settled = await this.tx("settle", deal, async () => {
        for (let attempt = 0; ; attempt++) {
          try {
            return await this.options.chain.settle(a, plan.gamma, args);
          } catch (error) {
            const early = error instanceof MarketRevertError && error.errorName === "DeadlineNotReached";
            if (!early || attempt >= 30 || !this.running) throw error;
            await sleep(1_000);
          }
        }
      });
      if (settled || (await this.options.chain.recordOf(deal.id)).state !== ChainState.Running)
        this.save(deal, "settled");
    } finally {
      clearInterval(progress);
      reading = false;
      await Promise.allSettled(loops);
      await Promise.allSettled(readers.map((r) => r.close()));
    }
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
