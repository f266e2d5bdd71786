import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mergeWindows } from "../src/index.ts";

const window = fc
  .tuple(fc.integer({ min: 0, max: 200 }), fc.integer({ min: 1, max: 50 }))
  .map(([start, length]) => ({ start, end: start + length }));

describe("mergeWindows", () => {
  it("joins overlapping and touching windows, keeps apart those with a gap", () => {
    expect(
      mergeWindows([
        { start: 30, end: 40 },
        { start: 0, end: 10 },
        { start: 10, end: 15 },
        { start: 12, end: 14 },
        { start: 16, end: 20 },
      ]),
    ).toEqual([
      { start: 0, end: 15 },
      { start: 16, end: 20 },
      { start: 30, end: 40 },
    ]);
    expect(mergeWindows([])).toEqual([]);
  });

  it("gives ascending, disjoint windows covering exactly the seconds of the input", () => {
    fc.assert(
      fc.property(fc.array(window, { maxLength: 12 }), (windows) => {
        const merged = mergeWindows(windows);
        for (let i = 1; i < merged.length; i++) expect(merged[i]!.start).toBeGreaterThan(merged[i - 1]!.end);
        const covered = (list: readonly { start: number; end: number }[], t: number) =>
          list.some((w) => w.start <= t && t < w.end);
        for (let t = 0; t <= 250; t++) expect(covered(merged, t)).toBe(covered(windows, t));
      }),
    );
  });
});
