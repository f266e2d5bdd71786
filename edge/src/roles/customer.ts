// The Customer's side of the stream (paper ⑤): feed the input channel at rate λ with the test
// inputs mixed in at their secret positions, and take every replica's outputs, delivering the
// first good one per input downstream (so one failing replica costs nothing) while checking each
// replica's answers at the test positions.
import type { Address } from "@surplus/core";
import type { InputPublisher, PublishedOutput } from "../ports.ts";
import { checkTestOutput, type TestPlan, testInputAt } from "../verification/test-plan.ts";

/** The input at each position: the live source's, or the test input at a test position. */
export function inputFor(plan: TestPlan, seq: bigint, live: Uint8Array): Uint8Array {
  return testInputAt(plan, seq) ?? live;
}

export interface FeedOptions {
  readonly plan: TestPlan;
  readonly publisher: InputPublisher;
  /** λ, inputs per second. */
  readonly inputsPerSecond: number;
  /** Inputs in the allocation (λΔ). */
  readonly total: bigint;
  /** The first seq to send (to resume after a restart). @default 0n */
  readonly fromSeq?: bigint;
  /** The live source: the payload for each seq. */
  readonly source: (seq: bigint) => Uint8Array | Promise<Uint8Array>;
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
    for (; seq < upTo; seq++)
      batch.push({ seq, eventTimeMs: now(), payload: inputFor(o.plan, seq, await o.source(seq)) });
    await o.publisher.publish(batch);
  }
  return seq;
}

/** What the Customer saw of one replica. */
export interface ReplicaReport {
  readonly supplier: Address;
  outputs: number;
  /** Test positions where this replica's output was wrong. */
  wrongTests: bigint[];
  /** Test positions this replica answered correctly. */
  rightTests: bigint[];
}

/**
 * Takes outputs from every replica: the first good output of each input goes downstream; each
 * replica's answers at test positions are checked against the plan.
 */
export class OutputCollector {
  readonly #plan: TestPlan;
  readonly #deliver: (seq: bigint, payload: Uint8Array, from: Address) => void;
  readonly #delivered = new Set<bigint>();
  readonly replicas = new Map<Address, ReplicaReport>();

  constructor(
    plan: TestPlan,
    suppliers: readonly Address[],
    deliver: (seq: bigint, payload: Uint8Array, from: Address) => void,
  ) {
    this.#plan = plan;
    this.#deliver = deliver;
    for (const s of suppliers)
      this.replicas.set(s, { supplier: s, outputs: 0, wrongTests: [], rightTests: [] });
  }

  get delivered(): number {
    return this.#delivered.size;
  }

  take(from: Address, output: PublishedOutput): void {
    const report = this.replicas.get(from);
    if (!report) return; // not a replica of this allocation: ignored
    report.outputs++;
    const verdict = output.error ? false : checkTestOutput(this.#plan, output.seq, output.payload);
    if (verdict === true) report.rightTests.push(output.seq);
    if (verdict === false && this.#plan.tests.some((t) => t.seq === output.seq))
      report.wrongTests.push(output.seq);
    if (!output.error && verdict !== false && !this.#delivered.has(output.seq)) {
      this.#delivered.add(output.seq);
      this.#deliver(output.seq, output.payload, from);
    }
  }

  /**
   * The replicas to dispute (paper §3.4.6 and the lazy-Supplier threat): those that answered a
   * test position wrongly, or not at all, on the live stream — as a bitmask over `suppliers`.
   */
  disputeMask(suppliers: readonly Address[]): number {
    let mask = 0;
    suppliers.forEach((s, i) => {
      const r = this.replicas.get(s);
      if (!r || r.wrongTests.length > 0 || r.rightTests.length < this.#plan.tests.length) mask |= 1 << i;
    });
    return mask;
  }
}
