// The Customer's secret checklist (paper §3.4.5–§3.4.6, issue 14 threat 8): n secret positions of
// the live stream itself, drawn uniformly in [0, λΔ) before the stream, committed to as
// Γ = checklistCommitment(id, salt, T) in the Customer's Accept. Nothing is injected: the inputs at
// those positions are ordinary live inputs (same source, order, timing and bytes), so a Supplier
// cannot tell them apart. The Customer runs its own copy of the service on them as they pass and
// keeps their outputs' hashes; γ_c = γ(id, salt, those outputs).
import { randomBytes, randomInt } from "node:crypto";
import {
  type Bytes32,
  checklistCommitment,
  gammaOfHashes,
  hashBytes,
  InvalidParameterError,
  testSeqsHash,
} from "@surplus/core";

export interface TestPlan {
  readonly allocationId: Bytes32;
  /** The secret salt of Γ and γ, revealed after the Customer's settle. */
  readonly salt: Bytes32;
  /** The n test positions (sequence numbers of the live stream), ascending. */
  readonly testSeqs: readonly bigint[];
  /** Γ: what the Customer signs with its Accept. */
  readonly commitment: Bytes32;
}

export interface Randomness {
  bytes32(): Bytes32;
  /** A uniform integer in [0, max). */
  below(max: number): number;
}

export const cryptoRandomness: Randomness = {
  bytes32: () => `0x${randomBytes(32).toString("hex")}` as Bytes32,
  below: (max) => randomInt(max),
};

/** Draws n distinct secret positions in [0, totalInputs) and commits to them with a fresh salt. */
export function prepareTestPlan(
  allocationId: Bytes32,
  n: number,
  totalInputs: number,
  random: Randomness = cryptoRandomness,
): TestPlan {
  if (!Number.isInteger(n) || n < 1) throw new InvalidParameterError("testCount", n, "at least 1");
  if (totalInputs < n) throw new InvalidParameterError("totalInputs", totalInputs, `at least n = ${n}`);
  const positions = new Set<number>();
  while (positions.size < n) positions.add(random.below(totalInputs));
  const testSeqs = [...positions].sort((a, b) => a - b).map(BigInt);
  const salt = random.bytes32();
  return { allocationId, salt, testSeqs, commitment: checklistCommitment(allocationId, salt, testSeqs) };
}

/** What the contract's settle takes of the checklist: keccak256 of the packed positions. */
export function seqsHashOf(plan: TestPlan): Bytes32 {
  return testSeqsHash(plan.testSeqs);
}

export function isTestPosition(plan: TestPlan, seq: bigint): boolean {
  return plan.testSeqs.includes(seq);
}

/**
 * The output a failed execution stands for: empty bytes, as a Supplier publishes it (with the
 * error beside it) and as the Mediator re-executes it. A deterministic failure (a trap) then
 * agrees everywhere; a machine-dependent one (a time budget) may not, and the Mediator's own
 * execution decides.
 */
export const FAILED_OUTPUT = new Uint8Array();

/** The hash a result stands for in γ: its output, or the empty output of a failure. */
export function outputHashOf(r: { ok: true; output: Uint8Array } | { ok: false }): Bytes32 {
  return hashBytes(r.ok ? r.output : FAILED_OUTPUT);
}

/** γ_c from the outputs the Customer computed at every test position; undefined while one is missing. */
export function gammaOfPlan(plan: TestPlan, expected: ReadonlyMap<bigint, Bytes32>): Bytes32 | undefined {
  const items = plan.testSeqs.map((seq) => ({ seq, outputHash: expected.get(seq) }));
  if (items.some((i) => i.outputHash === undefined)) return undefined;
  return gammaOfHashes(plan.allocationId, plan.salt, items as Array<{ seq: bigint; outputHash: Bytes32 }>);
}
