// The Mediator's finding (paper ⑨–⑩): re-execute the inputs at the revealed test positions, taken
// from the retained input channel, compute γ_m with the revealed salt, and check each Supplier's
// live output stream at those positions (the lazy-Supplier check): an output missing, wrong, or
// published only after the checklist was revealed is lazy. The contract assigns fault from γ_m and
// the mask.
import { type Address, type Bytes32, type Checklist, gamma, hashBytes } from "@surplus/core";
import type { ServiceSandbox } from "../sandbox/index.ts";
import { FAILED_OUTPUT } from "./test-plan.ts";

export interface MediationInputs {
  readonly checklist: Checklist;
  /** The inputs at the test positions, as the retained input channel holds them. */
  readonly inputs: ReadonlyMap<bigint, Uint8Array>;
  /** Each Supplier's live outputs at the test positions (its retained output channel, before the reveal). */
  readonly published: ReadonlyMap<Address, ReadonlyMap<bigint, Uint8Array>>;
  readonly suppliers: readonly Address[];
  readonly sandbox: ServiceSandbox;
}

export interface MediationFinding {
  /** γ over the Mediator's own outputs; undefined when a test input is missing from the channel. */
  readonly gammaM: Bytes32 | undefined;
  /** Suppliers whose live outputs at the test positions were wrong or missing (bitmask over suppliers). */
  readonly lazyMask: number;
}

export async function mediate(m: MediationInputs): Promise<MediationFinding> {
  const seqs = m.checklist.testSeqs;
  const inputs = seqs.map((s) => m.inputs.get(s));
  if (inputs.some((i) => i === undefined)) return { gammaM: undefined, lazyMask: 0 };
  const results = await m.sandbox.process(inputs as Uint8Array[]);
  const outputs = results.map((r) => (r.ok ? r.output : FAILED_OUTPUT));
  const gammaM = gamma(
    m.checklist.allocationId,
    m.checklist.salt,
    seqs.map((seq, i) => ({ seq, output: outputs[i]! })),
  );
  let lazyMask = 0;
  m.suppliers.forEach((s, k) => {
    const theirs = m.published.get(s);
    const ok = seqs.every((seq, i) => {
      const o = theirs?.get(seq);
      return o !== undefined && hashBytes(o) === hashBytes(outputs[i]!);
    });
    if (!ok) lazyMask |= 1 << k;
  });
  return { gammaM, lazyMask };
}

/**
 * Which of a Supplier's published outputs count as live at the test positions: the first per
 * position published before `beforeMs` — the moment the checklist was revealed. One published
 * after it answers a position already known (a lazy Supplier computing the tests late) and is
 * only counted as late.
 */
export function liveOutputs(
  published: Iterable<{ readonly seq: bigint; readonly payload: Uint8Array; readonly publishTime: number }>,
  wanted: ReadonlySet<bigint>,
  beforeMs: number,
): { live: Map<bigint, Uint8Array>; late: number } {
  const live = new Map<bigint, Uint8Array>();
  let late = 0;
  for (const o of published) {
    if (!wanted.has(o.seq) || live.has(o.seq)) continue;
    if (o.publishTime < beforeMs) live.set(o.seq, o.payload);
    else late++;
  }
  return { live, late };
}
