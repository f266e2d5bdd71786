import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkWindow, cutWindow, InvalidParameterError, type TimeWindow } from "../src/index.ts";

function assertTiles(window: TimeWindow, chunks: TimeWindow[]) {
  expect(chunks[0]!.start).toBe(window.start);
  expect(chunks.at(-1)!.end).toBe(window.end);
  for (let i = 1; i < chunks.length; i++) expect(chunks[i]!.start).toBe(chunks[i - 1]!.end);
}

describe("chunkWindow", () => {
  it("cuts a long window into consecutive chunks, folding a short remainder into the last one", () => {
    expect(chunkWindow({ start: 0, end: 2_500 }, 1_000, 600)).toEqual([
      { start: 0, end: 1_000 },
      { start: 1_000, end: 2_500 },
    ]);
    expect(chunkWindow({ start: 0, end: 2_700 }, 1_000, 600)).toEqual([
      { start: 0, end: 1_000 },
      { start: 1_000, end: 2_000 },
      { start: 2_000, end: 2_700 },
    ]);
  });

  it("tiles the window without gap or overlap, every chunk at least the minimum service time", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1e6 }),
        fc.integer({ min: 1, max: 5_000 }),
        fc.integer({ min: 0, max: 5_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        (start, min, extraChunk, extraLen) => {
          const window = { start, end: start + min + extraLen };
          const chunkSeconds = min + extraChunk;
          const chunks = chunkWindow(window, chunkSeconds, min);
          assertTiles(window, chunks);
          for (const c of chunks) {
            expect(c.end - c.start).toBeGreaterThanOrEqual(min);
            expect(c.end - c.start).toBeLessThan(chunkSeconds + min);
          }
        },
      ),
    );
  });

  it("rejects a window shorter than the minimum service time, or chunks shorter than it", () => {
    expect(() => chunkWindow({ start: 0, end: 500 }, 1_000, 600)).toThrow(InvalidParameterError);
    expect(() => chunkWindow({ start: 0, end: 5_000 }, 500, 600)).toThrow(/chunkSeconds/);
  });
});

describe("cutWindow", () => {
  it("cuts at the given instants, keeping every piece at least the minimum service time", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1_000 }),
        fc.integer({ min: 0, max: 50_000 }),
        fc.array(fc.integer({ min: -1_000, max: 60_000 }), { maxLength: 30 }),
        (min, extra, cuts) => {
          const window = { start: 0, end: min + extra };
          const pieces = cutWindow(window, cuts, min);
          assertTiles(window, pieces);
          for (const p of pieces) expect(p.end - p.start).toBeGreaterThanOrEqual(min);
          for (const p of pieces.slice(1)) expect(cuts).toContain(p.start);
        },
      ),
    );
  });
});
