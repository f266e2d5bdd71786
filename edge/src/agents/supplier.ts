// The Supplier agent (paper §3.2–§3.4): offers its spare capacity, accepts the allocations that
// name it once it holds the service they name (hash checked), runs the service on the input
// channel when the allocation is Running, and answers the Customer's checklist with its sealed
// result. Restartable at any point: the output ledger and the durable input subscription make a
// restarted job resume without duplicating or losing an output.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { allocationChannels } from "@surplus/adapters/pulsar";
import { NO_RESULT } from "@surplus/contracts";
import {
  type Address,
  type Allocation,
  AllocationState,
  type Bytes32,
  type Checklist,
  checklist as checklistSchema,
  parse,
  SCHEMA_VERSION,
  type SupplierOffer,
  testSeqsHash,
  toWire,
} from "@surplus/core";
import { outputPublisher, readStream, subscribeInputs } from "../channels/pulsar.ts";
import type { ChainRecord, SignedResult } from "../ports.ts";
import { type Isolation, ServiceSandbox } from "../sandbox/index.ts";
import { SupplierJob } from "../stream/supplier-job.ts";
import { OutputLedger } from "../verification/ledger.ts";
import type { SupplierStrategy } from "../verification/strategy.ts";
import { FAILED_OUTPUT } from "../verification/test-plan.ts";
import { Agent, type AgentOptions, type AllocationProgress, sleep } from "./agent.ts";
import type { StoredAllocation } from "./store.ts";

export interface SupplierOfferTerms {
  /** I_s, million instructions per second offered. */
  readonly capacityMips: number;
  readonly ramMb: number;
  /** π_s,min per million instructions, token base units. */
  readonly minPricePerMi: bigint;
  /** Mediators this Supplier trusts. */
  readonly mediators: readonly Address[];
  /** Seconds of availability each offer covers, from when it is posted. @default 3600 */
  readonly windowSeconds?: number;
}

export interface SupplierAgentOptions extends AgentOptions {
  readonly offer: SupplierOfferTerms;
  /** P(s) and how to cheat otherwise — for experiments only. */
  readonly strategy?: SupplierStrategy;
  readonly sandbox?: {
    readonly memoryCapMb?: number;
    readonly timeBudgetMs?: number;
    readonly isolation?: Isolation;
  };
  /** Inputs per sandbox batch. @default 50 */
  readonly batchSize?: number;
}

export interface SupplierState extends AllocationProgress {
  /** allocated → accepted → running → processed → sealed → closed (or lapsed). */
  phase: "allocated" | "accepted" | "running" | "processed" | "sealed" | "closed" | "lapsed";
}

/** Progress of the jobs this process runs, for the status line. */
export interface SupplierTotals {
  processed: number;
  skipped: number;
  failed: number;
}

export class SupplierAgent extends Agent<SupplierState> {
  override readonly options: SupplierAgentOptions;
  readonly totals: SupplierTotals = { processed: 0, skipped: 0, failed: 0 };
  #offerEnds = 0;

  constructor(options: SupplierAgentOptions) {
    super("supplier", options);
    this.options = options;
  }

  protected isParty(a: Allocation): boolean {
    return a.suppliers.some((s) => s.toLowerCase() === this.address.toLowerCase());
  }

  protected revive(raw: unknown): SupplierState {
    return raw as SupplierState;
  }

  /** Accepts only what it can run: the named service must be available and hash as named. */
  protected async begin(a: Allocation): Promise<{ state: SupplierState }> {
    await this.options.services.get(a.serviceHash);
    return { state: { phase: "allocated" } };
  }

  /** How long before its current offer ends the Supplier posts the next: a minute, or half a
   * window when windows are shorter than two minutes. */
  get #renewLeadSeconds(): number {
    return Math.min(60, Math.floor((this.options.offer.windowSeconds ?? 3600) / 2));
  }

  /** Offers its capacity, unless the offer it posted before a restart is still open. */
  protected override async onStart(): Promise<void> {
    const file = join(this.options.dataDir, "offer.json");
    if (existsSync(file)) {
      const { end } = JSON.parse(readFileSync(file, "utf8")) as { end: number };
      this.#offerEnds = end;
      if (end - this.#renewLeadSeconds > Date.now() / 1000) return;
    }
    await this.postOffer();
  }

  /** Offers again when the current offer's window is about to end. */
  protected override async onTick(nowS: number): Promise<void> {
    if (nowS >= this.#offerEnds - this.#renewLeadSeconds) await this.postOffer();
  }

  /**
   * Posts a signed offer of this Supplier's capacity on the offers channel (paper ①). Its window
   * starts where the previous one ends (or now, if that has passed): the Allocator counts
   * capacity per offer, so two offers of one Supplier that overlapped would offer its capacity
   * twice over the overlap.
   */
  async postOffer(): Promise<SupplierOffer> {
    const t = this.options.offer;
    const start = Math.max(Math.floor(Date.now() / 1000), this.#offerEnds);
    const offer: SupplierOffer = {
      kind: "supplier",
      schemaVersion: SCHEMA_VERSION,
      account: this.address,
      nonce: BigInt(Date.now()),
      capacityMips: t.capacityMips,
      ramMb: t.ramMb,
      start,
      end: start + (t.windowSeconds ?? 3600),
      minPricePerMi: t.minPricePerMi,
      mediators: [...t.mediators],
    };
    await this.publishOffer("SupplierOffer", offer);
    this.#offerEnds = offer.end;
    mkdirSync(this.options.dataDir, { recursive: true });
    writeFileSync(join(this.options.dataDir, "offer.json"), toWire(offer));
    this.log("offer.posted", {
      capacityMips: offer.capacityMips,
      ramMb: offer.ramMb,
      minPricePerMi: offer.minPricePerMi.toString(),
      start: offer.start,
      end: offer.end,
    });
    return offer;
  }

  /** Paper ⑥ clean-up: once Closed, the outputs' record is no longer evidence for anything. */
  protected override async onClosed(stored: StoredAllocation<SupplierState>): Promise<void> {
    rmSync(this.#ledgerFile(stored.id), { force: true });
  }

  #ledgerFile(id: Bytes32): string {
    return join(this.options.dataDir, "ledgers", `${id}.jsonl`);
  }

  protected async advance(stored: StoredAllocation<SupplierState>, record: ChainRecord): Promise<void> {
    const phase = stored.state.phase;
    const running =
      record.state === AllocationState.Running || record.state === AllocationState.MediationRequested;
    if (!running) return;
    const index = stored.allocation.suppliers.findIndex(
      (s) => s.toLowerCase() === this.address.toLowerCase(),
    );
    if ((record.suppliers & (1 << index)) === 0) return; // it did not sign in time: not running
    if (phase === "accepted") this.save(stored, "running");
    if (stored.state.phase === "running" || stored.state.phase === "processed")
      this.spawn(stored, "job", () => this.#work(stored));
  }

  /** Runs the job to the end of the stream, then answers the checklist with the sealed result. */
  async #work(stored: StoredAllocation<SupplierState>): Promise<void> {
    const a = stored.allocation;
    const id = stored.id;
    const ch = allocationChannels(id, a.suppliers, this.options.layout);
    const outTopic = ch.outputs[this.address.toLowerCase()]!;
    const ledger = new OutputLedger(this.#ledgerFile(id));
    const total = BigInt(a.inputsPerSecond * (a.end - a.start));
    const wasm = await this.options.services.get(a.serviceHash);
    const sandbox = ServiceSandbox.load(wasm, { expectedHash: a.serviceHash, ...this.options.sandbox });
    const output = await outputPublisher(
      this.options.bus,
      outTopic,
      `output-${this.address}`,
      ledger.nextSeq(),
    );
    const input = await subscribeInputs(this.options.bus, ch.input, `supplier-${this.address}`);
    const job = new SupplierJob({
      allocationId: id,
      supplier: this.address,
      sandbox,
      ledger,
      input,
      output,
      endSeq: total,
      batchSize: this.options.batchSize ?? 50,
      ...(this.options.strategy ? { strategy: this.options.strategy } : {}),
    });
    try {
      if (stored.state.phase === "running") {
        this.log("job.started", {
          allocation: id,
          service: a.serviceHash,
          resumeAt: ledger.nextSeq().toString(),
        });
        let seen = { ...job.progress };
        // Until every input is handled; if the Customer stops sending, until the stream's end has
        // passed and nothing arrives any more.
        while (this.running && !job.done) {
          const got = await job.step(1_000);
          if (got === 0 && Date.now() / 1000 > a.end + 10) break;
          this.#count(job.progress, seen);
          seen = { ...job.progress };
        }
        await job.flush();
        this.#count(job.progress, seen);
        if (!this.running) return; // stopped: resumes from the ledger on the next start
        this.save(stored, "processed");
        this.log("job.done", {
          allocation: id,
          outputs: ledger.size,
          processed: job.progress.processed,
          skipped: job.progress.skipped,
          failed: job.progress.failed,
        });
      }
      // ⑥–⑦: wait for the Customer's checklist (salt, test positions), then post the sealed result.
      const w = await this.options.chain.windows();
      const c = await this.#checklist(ch.checklist, id, (a.end + w.reveal) * 1000);
      if (!c) return; // the Customer never revealed: the reveal timeout pays this Supplier
      if (this.options.strategy?.frontRun) await this.#answerLate(stored, c, ledger, sandbox, outTopic);
      const result = await job.result(c, this.options.signer, this.options.domain);
      if (this.options.strategy?.frontRun) await this.#settleFirst(stored, c, ledger, result);
      const producer = await this.options.bus.createProducer(outTopic, {
        producerName: `result-${this.address}`,
      });
      try {
        await producer.send({
          payload: new TextEncoder().encode(JSON.stringify(result)),
          properties: { type: "result" },
        });
      } finally {
        await producer.close().catch(() => undefined);
      }
      this.save(stored, "sealed");
      this.log("result.posted", { allocation: id, seal: result.seal });
    } finally {
      await sandbox.close();
      await input.close().catch(() => undefined);
      await output.close().catch(() => undefined);
    }
  }

  /**
   * The front-running lazy strategy, first half: the test positions it skipped are now known, so it
   * reads their inputs back from the retained input channel, runs them and publishes the outputs
   * on its output channel (under a producer of its own, past the broker's deduplication), as if
   * they had been live. They are late: the Customer froze its dispute mask before the reveal, and
   * the Mediator counts only outputs published before the checklist.
   */
  async #answerLate(
    stored: StoredAllocation<SupplierState>,
    c: Checklist,
    ledger: OutputLedger,
    sandbox: ServiceSandbox,
    outTopic: string,
  ): Promise<void> {
    const a = stored.allocation;
    const ch = allocationChannels(stored.id, a.suppliers, this.options.layout);
    const missing = new Set(c.testSeqs.filter((seq) => !ledger.has(seq)));
    if (missing.size === 0) return;
    const inputs = [...(await readStream(this.options.bus, ch.input, missing))].sort(([x], [y]) =>
      x < y ? -1 : 1,
    );
    const results = await sandbox.process(inputs.map(([, m]) => m.payload));
    const outputs = inputs.map(([seq], i) => {
      const r = results[i]!;
      return r.ok ? { seq, payload: r.output } : { seq, payload: FAILED_OUTPUT, error: r.error };
    });
    const late = await outputPublisher(this.options.bus, outTopic, `late-${this.address}`, 0n);
    try {
      await late.publish(outputs);
    } finally {
      await late.close().catch(() => undefined);
    }
    ledger.record(outputs.map((o) => ({ seq: o.seq, output: o.payload })));
    this.log("frontrun.late-outputs", { allocation: stored.id, outputs: outputs.length });
  }

  /**
   * Second half: settle before the Customer with its own seal and γ as γ_c, nobody disputed — what
   * closed the allocation Settled and paid it P + D before the fix. Only the Customer may settle now.
   */
  async #settleFirst(
    stored: StoredAllocation<SupplierState>,
    c: Checklist,
    ledger: OutputLedger,
    own: SignedResult,
  ): Promise<void> {
    const a = stored.allocation;
    const g = ledger.gamma(stored.id, c.salt, c.testSeqs);
    if (!g) return;
    const results = a.suppliers.map((s) =>
      s.toLowerCase() === this.address.toLowerCase()
        ? { seal: own.seal, signature: own.signature }
        : NO_RESULT,
    );
    const tx = await this.tx("settle", stored, () =>
      this.options.chain.settle(a, c.salt, testSeqsHash(c.testSeqs), g, results, 0),
    );
    this.log(tx ? "frontrun.settled" : "frontrun.refused", { allocation: stored.id });
  }

  #count(now: SupplierTotals, before: SupplierTotals): void {
    this.totals.processed += now.processed - before.processed;
    this.totals.skipped += now.skipped - before.skipped;
    this.totals.failed += now.failed - before.failed;
  }

  /** Reads the allocation's checklist channel until the Customer's reveal arrives or `untilMs`. */
  async #checklist(topic: string, id: Bytes32, untilMs: number) {
    while (this.running && Date.now() < untilMs) {
      const m = await this.firstMessage(topic, 2_000).catch(() => undefined);
      if (m) {
        try {
          const c = parse(checklistSchema, JSON.parse(new TextDecoder().decode(m.payload)), "checklist");
          if (c.allocationId !== id) throw new Error(`checklist of ${c.allocationId}, expected ${id}`);
          return c;
        } catch (error) {
          this.log("checklist.invalid", { allocation: id, error: (error as Error).message });
        }
      }
      await sleep(1_000);
    }
    return undefined;
  }
}
