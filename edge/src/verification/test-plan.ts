// The Customer's secret test plan (paper §3.4.5–§3.4.6): n test inputs whose outputs it computed
// itself, mixed into the live stream at secret positions, committed to as Γ before the stream.
import { randomBytes, randomInt } from "node:crypto";
import {
  type Bytes32,
  commitmentOf,
  gammaOfHashes,
  hashBytes,
  InvalidParameterError,
  type SequencedOutputHash,
} from "@surplus/core";

export interface TestPlan {
  /** The secret salt of γ, revealed after the stream ends. */
  readonly salt: Bytes32;
  /** Test positions, ascending, each with the input sent there and the expected output's hash. */
  readonly tests: ReadonlyArray<{
    readonly seq: bigint;
    readonly input: Uint8Array;
    readonly outputHash: Bytes32;
  }>;
  readonly gamma: Bytes32;
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

/**
 * Places n test inputs at distinct secret positions in [0, totalInputs) and commits to the outputs
 * the Customer computed for them. `outputs[i]` is the service's output for `inputs[i]`.
 */
export function prepareTestPlan(
  inputs: readonly Uint8Array[],
  outputs: readonly Uint8Array[],
  totalInputs: number,
  random: Randomness = cryptoRandomness,
): TestPlan {
  const n = inputs.length;
  if (n === 0 || outputs.length !== n)
    throw new InvalidParameterError("test outputs", outputs.length, `one per test input (${n})`);
  if (totalInputs < n) throw new InvalidParameterError("totalInputs", totalInputs, `at least n = ${n}`);
  const positions = new Set<number>();
  while (positions.size < n) positions.add(random.below(totalInputs));
  const seqs = [...positions].sort((a, b) => a - b);
  const tests = seqs.map((seq, i) => ({
    seq: BigInt(seq),
    input: inputs[i]!,
    outputHash: hashBytes(outputs[i]!),
  }));
  const salt = random.bytes32();
  const gamma = gammaOfHashes(salt, tests as SequencedOutputHash[]);
  return { salt, tests, gamma, commitment: commitmentOf(gamma) };
}

/** The test input to send at `seq`, if `seq` is a test position. */
export function testInputAt(plan: TestPlan, seq: bigint): Uint8Array | undefined {
  return plan.tests.find((t) => t.seq === seq)?.input;
}

/** Whether a Supplier's published output at a test position is the expected one (undefined: not a test). */
export function checkTestOutput(plan: TestPlan, seq: bigint, output: Uint8Array): boolean | undefined {
  const test = plan.tests.find((t) => t.seq === seq);
  return test ? test.outputHash === hashBytes(output) : undefined;
}
