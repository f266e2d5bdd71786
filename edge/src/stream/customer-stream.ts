// The Customer's side of the stream (paper ⑤): feed the input channel at rate λ with its live
// source — the secret test positions are ordinary live inputs, nothing is injected — and take
// every replica's outputs, delivering the first good one per input downstream (so one failing
// replica costs nothing) while keeping each replica's answers at the test positions.
import type { Address, Bytes32 } from "@surplus/core";
import { hashBytes } from "@surplus/core";
import type { InputPublisher, PublishedOutput } from "../ports.ts";
import { FAILED_OUTPUT, isTestPosition, type TestPlan } from "../verification/test-plan.ts";

export interface FeedOptions {
  readonly publisher: InputPublisher;
  /** λ, inputs per second. */
  readonly inputsPerSecond: number;
  /** Inputs in the allocation (λΔ). */
  readonly total: bigint;
  /** The first seq to send (to resume after a restart). @default 0n */
  readonly fromSeq?: bigint;
  /** The live source: the payload for each seq. */
  readonly source: (seq: bigint) => Uint8Array | Promise<Uint8Array>;
  /** Called after each batch is published (the Customer keeps the inputs at its test positions). */
  readonly sent?: (batch: ReadonlyArray<{ seq: bigint; payload: Uint8Array }>) => void;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly signal?: AbortSignal;
}

/** Streams the whole allocation's inputs at λ, in batches of about 50 ms of inputs. */
export async function feedInputs(o: FeedOptions): Promise<bigint> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const started = now();
  const from = o.fromSeq ?? 0n;
  let seq = from;
  while (seq < o.total && !o.signal?.aborted) {
    const due = BigInt(Math.floor(((now() - started) / 1000) * o.inputsPerSecond)) + from + 1n;
    const upTo = due < o.total ? due : o.total;
    if (upTo <= seq) {
      await sleep(Math.max(1, Math.min(50, 1000 / o.inputsPerSecond)));
      continue;
    }
    const batch: Array<{ seq: bigint; eventTimeMs: number; payload: Uint8Array }> = [];
    for (; seq < upTo; seq++) batch.push({ seq, eventTimeMs: now(), payload: await o.source(seq) });
    await o.publisher.publish(batch);
    o.sent?.(batch);
  }
  return seq;
}

/**
 * The hook the Customer gives `feedInputs`: hands the inputs at its test positions, after they
 * went out like any other, to `run` (its own execution of the service).
 */
export function tapTests(
  plan: TestPlan,
  run: (seq: bigint, input: Uint8Array) => void,
): NonNullable<FeedOptions["sent"]> {
  return (batch) => {
    for (const i of batch) if (isTestPosition(plan, i.seq)) run(i.seq, i.payload);
  };
}

/** What the Customer saw of one replica. */
export interface ReplicaReport {
  readonly supplier: Address;
  outputs: number;
  /** The hash of this replica's first answer at each test position (a failure counts as the empty output). */
  readonly atTests: Map<bigint, Bytes32>;
}

/**
 * Takes outputs from every replica: the first good output of each input goes downstream; each
 * replica's first answer at a test position is kept until `freeze` — the moment before the
 * Customer reveals its checklist, after which an answer is no longer live.
 */
export class OutputCollector {
  readonly #plan: TestPlan;
  readonly #deliver: (seq: bigint, payload: Uint8Array, from: Address) => void;
  readonly #delivered = new Set<bigint>();
  #frozen = false;
  readonly replicas = new Map<Address, ReplicaReport>();

  constructor(
    plan: TestPlan,
    suppliers: readonly Address[],
    deliver: (seq: bigint, payload: Uint8Array, from: Address) => void,
  ) {
    this.#plan = plan;
    this.#deliver = deliver;
    for (const s of suppliers) this.replicas.set(s, { supplier: s, outputs: 0, atTests: new Map() });
  }

  get delivered(): number {
    return this.#delivered.size;
  }

  /** From now on answers at test positions are late: they do not count for the dispute mask. */
  freeze(): void {
    this.#frozen = true;
  }

  take(from: Address, output: PublishedOutput): void {
    const report = this.replicas.get(from);
    if (!report) return; // not a replica of this allocation: ignored
    report.outputs++;
    if (!this.#frozen && isTestPosition(this.#plan, output.seq) && !report.atTests.has(output.seq))
      report.atTests.set(output.seq, hashBytes(output.error ? FAILED_OUTPUT : output.payload));
    if (!output.error && !this.#delivered.has(output.seq)) {
      this.#delivered.add(output.seq);
      this.#deliver(output.seq, output.payload, from);
    }
  }

  /** Test positions a replica answered as the Customer's own execution did. */
  rightTests(supplier: Address, expected: ReadonlyMap<bigint, Bytes32>): bigint[] {
    const r = this.replicas.get(supplier);
    return this.#plan.testSeqs.filter((seq) => {
      const h = r?.atTests.get(seq);
      return h !== undefined && h === expected.get(seq);
    });
  }

  /**
   * The replicas to dispute (paper §3.4.6 and the lazy-Supplier threat): those whose live answer at
   * a test position was wrong or missing before the freeze — as a bitmask over `suppliers`.
   */
  disputeMask(suppliers: readonly Address[], expected: ReadonlyMap<bigint, Bytes32>): number {
    let mask = 0;
    suppliers.forEach((s, i) => {
      if (this.rightTests(s, expected).length < this.#plan.testSeqs.length) mask |= 1 << i;
    });
    return mask;
  }
}
