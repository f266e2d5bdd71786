// A Supplier's work on one allocation (paper ⑤ and ⑦): consume the input channel, run the service
// in the sandbox, publish outputs at least at rate λ, keep what verification needs, and answer the
// Customer's checklist with its seal. Restartable: inputs are acknowledged only after their
// outputs are published and recorded, and an input already recorded is never processed twice.

import {
  type Address,
  type Bytes32,
  type Checklist,
  hashBytes,
  type MarketDomain,
  seal,
  signTyped,
  ZERO_HASH,
} from "@surplus/core";
import type { Signer } from "ethers";
import type { InputSubscription, OutputPublisher, PublishedOutput, SignedResult } from "../ports.ts";
import type { ServiceSandbox } from "../sandbox/index.ts";
import type { OutputLedger } from "../verification/ledger.ts";
import { type Decision, decider, HONEST, type SupplierStrategy } from "../verification/strategy.ts";

export interface SupplierJobOptions {
  readonly allocationId: Bytes32;
  readonly supplier: Address;
  readonly sandbox: ServiceSandbox;
  readonly ledger: OutputLedger;
  readonly input: InputSubscription;
  readonly output: OutputPublisher;
  /** Inputs in the allocation: λΔ. The job ends after input endSeq − 1. */
  readonly endSeq: bigint;
  readonly strategy?: SupplierStrategy;
  /** Inputs per sandbox batch. @default 64 */
  readonly batchSize?: number;
}

export interface SupplierProgress {
  processed: number;
  skipped: number;
  corrupted: number;
  failed: number;
  duplicates: number;
  lastSeq: bigint;
}

export class SupplierJob {
  readonly #o: SupplierJobOptions;
  readonly #decide: (seq: bigint) => Decision;
  readonly progress: SupplierProgress = {
    processed: 0,
    skipped: 0,
    corrupted: 0,
    failed: 0,
    duplicates: 0,
    lastSeq: -1n,
  };

  /** The previous batch: its outputs being acknowledged by the broker, then recorded and its inputs acked. */
  #inflight: Promise<void> = Promise.resolve();
  /**
   * Seqs handled but not in the ledger: those of the batch in flight (until recorded) and those
   * skipped. With the ledger, what makes an input that arrives twice (the Customer's input
   * channel is batched: a Customer restarted between a batch's acknowledgement and saving its
   * progress sends that batch again) count once.
   */
  readonly #handled = new Set<bigint>();
  #failure: unknown;

  constructor(options: SupplierJobOptions) {
    this.#o = options;
    this.#decide = decider(options.strategy ?? HONEST);
  }

  /** True once every input of the allocation has been handled. */
  get done(): boolean {
    return BigInt(this.#o.ledger.size + this.progress.skipped) >= this.#o.endSeq;
  }

  /**
   * Handles one batch of inputs; returns how many it received. Batches are pipelined: a batch's
   * outputs are sent (in input order) while the previous batch's broker acknowledgements are still
   * coming in; a batch is recorded and its inputs acknowledged only after its outputs are stored,
   * and after the batch before it. At most one batch is in flight.
   */
  async step(waitMs = 200): Promise<number> {
    this.#rethrow();
    const batch = await this.#o.input.receive(this.#o.batchSize ?? 64, waitMs);
    if (batch.length === 0) {
      await this.flush();
      return 0;
    }
    const fresh = batch.filter((m) => {
      if (m.seq >= this.#o.endSeq || this.#o.ledger.has(m.seq) || this.#handled.has(m.seq)) return false;
      this.#handled.add(m.seq);
      return true;
    });
    this.progress.duplicates += batch.length - fresh.length;
    const decisions = fresh.map((m) => this.#decide(m.seq));
    const toRun = fresh.filter((_, i) => decisions[i] === "process");
    const results = await this.#o.sandbox.process(toRun.map((m) => m.payload));
    const outputs: PublishedOutput[] = [];
    let r = 0;
    fresh.forEach((m, i) => {
      const d = decisions[i];
      if (d === "process") {
        const result = results[r++]!;
        if (result.ok) {
          outputs.push({ seq: m.seq, payload: result.output });
          this.progress.processed++;
        } else {
          outputs.push({ seq: m.seq, payload: new Uint8Array(), error: result.error });
          this.progress.failed++;
        }
      } else if (d === "corrupt") {
        // A plausible-looking wrong answer: the hash of the input, cut to the input's length class.
        outputs.push({ seq: m.seq, payload: new TextEncoder().encode(hashBytes(m.payload).slice(2, 10)) });
        this.progress.corrupted++;
      } else {
        this.progress.skipped++;
      }
      if (m.seq > this.progress.lastSeq) this.progress.lastSeq = m.seq;
    });
    const published = this.#o.output.publish(outputs);
    const previous = this.#inflight;
    const settled = (async () => {
      await published;
      await previous;
      this.#o.ledger.record(outputs.map((o) => ({ seq: o.seq, output: o.payload })));
      for (const o of outputs) this.#handled.delete(o.seq); // in the ledger now
      await Promise.all(batch.map((m) => m.ack()));
    })();
    this.#inflight = settled.catch((error) => {
      this.#failure ??= error;
    });
    await previous;
    this.#rethrow();
    // The allocation's last inputs: no next batch will come to overlap with, so finish now.
    if (BigInt(this.#o.ledger.size + outputs.length + this.progress.skipped) >= this.#o.endSeq)
      await this.flush();
    return batch.length;
  }

  /** Waits for the batch in flight to be stored, recorded and acknowledged. */
  async flush(): Promise<void> {
    await this.#inflight;
    this.#rethrow();
  }

  #rethrow(): void {
    if (this.#failure !== undefined) throw this.#failure;
  }

  /**
   * Answers the Customer's checklist (paper ⑦): γ over this Supplier's published outputs at the
   * test positions, sealed to its address and the allocation, signed. A Supplier missing an output
   * at a test position seals a zero γ: it cannot match, and mediation decides.
   */
  async result(checklist: Checklist, signer: Signer, domain: MarketDomain): Promise<SignedResult> {
    await this.flush();
    const g = this.#o.ledger.gamma(this.#o.allocationId, checklist.salt, checklist.testSeqs) ?? ZERO_HASH;
    const s = seal(this.#o.supplier, this.#o.allocationId, g);
    const signature = await signTyped(signer, domain, "SupplierResult", {
      allocationId: this.#o.allocationId,
      account: this.#o.supplier,
      seal: s,
    });
    return { supplier: this.#o.supplier, seal: s, signature };
  }
}
