import { appendFileSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Bytes32, commitmentOf, gamma } from "@surplus/core";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkTestOutput, decider, OutputLedger, prepareTestPlan, testInputAt } from "../src/index.ts";

const out = (n: number) => new Uint8Array([n & 0xff, (n >> 8) & 0xff]);
const seqRandom = (values: number[]) => {
  let i = 0;
  return {
    bytes32: () => `0x${"5a".repeat(32)}` as Bytes32,
    below: (max: number) => values[i++ % values.length]! % max,
  };
};

describe("the Customer's test plan", () => {
  it("commits to the outputs at secret, distinct positions, and a Supplier that processed everything matches it", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 50, max: 5_000 }), (n, total) => {
        const inputs = Array.from({ length: n }, (_, i) => new Uint8Array([i]));
        const outputs = inputs.map((x) => out(x[0]! * 3));
        const plan = prepareTestPlan(inputs, outputs, total);
        expect(new Set(plan.tests.map((t) => t.seq)).size).toBe(n);
        expect(plan.tests.every((t) => t.seq >= 0n && t.seq < BigInt(total))).toBe(true);
        // An honest Supplier's ledger holds the right output at every position.
        const ledger = new OutputLedger();
        ledger.record(plan.tests.map((t, i) => ({ seq: t.seq, output: outputs[i]! })));
        expect(
          commitmentOf(
            ledger.gamma(
              plan.salt,
              plan.tests.map((t) => t.seq),
            )!,
          ),
        ).toBe(plan.commitment);
        expect(plan.gamma).toBe(
          gamma(
            plan.salt,
            plan.tests.map((t, i) => ({ seq: t.seq, output: outputs[i]! })),
          ),
        );
      }),
      { numRuns: 50 },
    );
  });

  it("tells which positions are tests and whether an output there is right", () => {
    const plan = prepareTestPlan(
      [new Uint8Array([1]), new Uint8Array([2])],
      [out(10), out(20)],
      100,
      seqRandom([40, 7]),
    );
    expect(plan.tests.map((t) => t.seq)).toEqual([7n, 40n]);
    expect(testInputAt(plan, 7n)).toEqual(new Uint8Array([1]));
    expect(testInputAt(plan, 8n)).toBeUndefined();
    expect(checkTestOutput(plan, 40n, out(20))).toBe(true);
    expect(checkTestOutput(plan, 40n, out(21))).toBe(false);
    expect(checkTestOutput(plan, 41n, out(20))).toBeUndefined();
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
      expect(again.gamma(`0x${"01".repeat(32)}`, [1n, 2n, 3n])).toBe(
        gamma(
          `0x${"01".repeat(32)}`,
          [1, 2, 3].map((s) => ({ seq: BigInt(s), output: out(s) })),
        ),
      );
      expect(again.gamma(`0x${"01".repeat(32)}`, [1n, 4n])).toBeUndefined();
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
