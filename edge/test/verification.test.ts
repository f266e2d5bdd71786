import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bytes32, checklistCommitment, checklistCommitmentOfHash, gamma } from "@surplus/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  decider,
  gammaOfPlan,
  isTestPosition,
  OutputLedger,
  outputHashOf,
  prepareTestPlan,
  seqsHashOf,
} from "../src/index.ts";

const out = (n: number) => new Uint8Array([n & 0xff, (n >> 8) & 0xff]);
const seqRandom = (values: number[]) => {
  let i = 0;
  return {
    bytes32: () => `0x${"5a".repeat(32)}` as Bytes32,
    below: (max: number) => values[i++ % values.length]! % max,
  };
};

const ID = `0x${"a1".repeat(32)}` as Bytes32;

describe("the Customer's test plan", () => {
  it("draws n distinct secret positions of the live stream, and Γ commits to them with the salt", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 50, max: 5_000 }), (n, total) => {
        const plan = prepareTestPlan(ID, n, total);
        expect(new Set(plan.testSeqs).size).toBe(n);
        expect(plan.testSeqs.every((seq) => seq >= 0n && seq < BigInt(total))).toBe(true);
        expect([...plan.testSeqs].sort((a, b) => (a < b ? -1 : 1))).toEqual(plan.testSeqs);
        expect(plan.commitment).toBe(checklistCommitment(ID, plan.salt, plan.testSeqs));
        expect(checklistCommitmentOfHash(ID, plan.salt, seqsHashOf(plan))).toBe(plan.commitment);
      }),
      { numRuns: 50 },
    );
  });

  it("a Supplier that processed everything seals the γ_c the Customer computed from its own outputs", () => {
    const plan = prepareTestPlan(ID, 2, 100, seqRandom([40, 7]));
    expect(plan.testSeqs).toEqual([7n, 40n]);
    expect(isTestPosition(plan, 7n)).toBe(true);
    expect(isTestPosition(plan, 8n)).toBe(false);
    const expected = new Map<bigint, Bytes32>([[7n, outputHashOf({ ok: true, output: out(70) })]]);
    expect(gammaOfPlan(plan, expected)).toBeUndefined(); // one test output still missing
    // The Customer's own execution failed at 40: the empty output, as a Supplier publishes a failure.
    expected.set(40n, outputHashOf({ ok: false }));
    const ledger = new OutputLedger();
    ledger.record([
      { seq: 7n, output: out(70) },
      { seq: 40n, output: new Uint8Array() },
      { seq: 41n, output: out(1) },
    ]);
    expect(gammaOfPlan(plan, expected)).toBe(ledger.gamma(ID, plan.salt, plan.testSeqs));
    expect(gammaOfPlan(plan, expected)).toBe(
      gamma(ID, plan.salt, [
        { seq: 7n, output: out(70) },
        { seq: 40n, output: new Uint8Array() },
      ]),
    );
    // γ is bound to the allocation: the same checklist and outputs under another id differ.
    expect(ledger.gamma(`0x${"b2".repeat(32)}`, plan.salt, plan.testSeqs)).not.toBe(
      gammaOfPlan(plan, expected),
    );
  });
});

describe("OutputLedger", () => {
  it("survives a restart from its file, ignores a torn last line, and records each output once", () => {
    const dir = mkdtempSync(join(tmpdir(), "ledger-"));
    try {
      const file = join(dir, "a.jsonl");
      const first = new OutputLedger(file);
      expect(
        first.record([
          { seq: 1n, output: out(1) },
          { seq: 2n, output: out(2) },
        ]),
      ).toHaveLength(2);
      appendFileSync(file, '{"seq":"3","h":"0x');
      const again = new OutputLedger(file);
      expect(again.size).toBe(2);
      expect(
        again.record([
          { seq: 2n, output: out(2) },
          { seq: 3n, output: out(3) },
        ]),
      ).toHaveLength(1);
      expect(again.gamma(ID, `0x${"01".repeat(32)}`, [1n, 2n, 3n])).toBe(
        gamma(
          ID,
          `0x${"01".repeat(32)}`,
          [1, 2, 3].map((s) => ({ seq: BigInt(s), output: out(s) })),
        ),
      );
      expect(again.gamma(ID, `0x${"01".repeat(32)}`, [1n, 4n])).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Supplier strategy", () => {
  it("processes every input when honest, and about P(s) of them otherwise, reproducibly", () => {
    const honest = decider({ processProbability: 1, cheatMode: "skip", seed: 1 });
    expect(Array.from({ length: 100 }, (_, i) => honest(BigInt(i))).every((d) => d === "process")).toBe(true);
    const cheat = decider({ processProbability: 0.6, cheatMode: "corrupt", seed: 9 });
    const decisions = Array.from({ length: 5_000 }, (_, i) => cheat(BigInt(i)));
    const processed = decisions.filter((d) => d === "process").length / decisions.length;
    expect(processed).toBeGreaterThan(0.55);
    expect(processed).toBeLessThan(0.65);
    expect(decisions.filter((d) => d !== "process").every((d) => d === "corrupt")).toBe(true);
    expect(Array.from({ length: 5_000 }, (_, i) => cheat(BigInt(i)))).toEqual(decisions);
  });
});
