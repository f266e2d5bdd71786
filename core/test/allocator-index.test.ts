import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { CapacityTimeline } from "../src/allocator/capacity.ts";
import { LiveIndex, type SupplierTable } from "../src/allocator/supplier-index.ts";

const commitmentArb = fc.record({
  start: fc.integer({ min: 0, max: 100 }),
  len: fc.integer({ min: 1, max: 40 }),
  mips: fc.integer({ min: 0, max: 60 }),
  ramMb: fc.integer({ min: 0, max: 60 }),
});

describe("CapacityTimeline", () => {
  it("fitUntil and nextChange agree with fit", () => {
    fc.assert(
      fc.property(
        fc.array(commitmentArb, { maxLength: 8 }),
        fc.integer({ min: 0, max: 140 }),
        fc.integer({ min: 1, max: 60 }),
        fc.integer({ min: 1, max: 60 }),
        (commitments, t, mips, ramMb) => {
          const timeline = new CapacityTimeline(
            100,
            100,
            150,
            commitments.map((c) => ({ start: c.start, end: c.start + c.len, mips: c.mips, ramMb: c.ramMb })),
          );
          const fit = timeline.fit(t, mips, ramMb);
          const until = timeline.fitUntil(t, mips, ramMb, 150);
          if (fit.ok) expect(until).toBe(fit.until);
          else {
            expect(until).toBe(-1);
            expect(timeline.nextChange(t)).toBe(fit.freeAt);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

const supplierArb = fc.record({
  end: fc.integer({ min: 1, max: 90 }),
  mips: fc.integer({ min: 0, max: 8 }),
  ram: fc.integer({ min: 0, max: 8 }),
  mediators: fc.subarray([0, 1, 2], { minLength: 1 }),
  present: fc.boolean(),
});

function tableOf(rows: ReadonlyArray<{ end: number; mips: number; ram: number; mediators: number[] }>) {
  const table: SupplierTable = {
    count: rows.length,
    start: new Float64Array(rows.length),
    end: Float64Array.from(rows, (r) => r.end),
    capacityMips: Float64Array.from(rows, () => 8),
    ramMb: Float64Array.from(rows, () => 8),
    account: Int32Array.from(rows, (_, i) => i),
    mediators: rows.map((r) => Int32Array.from(r.mediators)),
  };
  return table;
}

describe("LiveIndex", () => {
  it("finds exactly the present Suppliers with room that stay long enough, in rank order, after any updates", () => {
    fc.assert(
      fc.property(
        fc.array(supplierArb, { minLength: 1, maxLength: 40 }),
        // Updates after the first state: (Supplier, mips, ram, present) applied in order.
        fc.array(
          fc.record({
            i: fc.nat(),
            mips: fc.integer({ min: 0, max: 8 }),
            ram: fc.integer({ min: 0, max: 8 }),
            present: fc.boolean(),
          }),
          { maxLength: 30 },
        ),
        fc.uniqueArray(fc.integer({ min: 1, max: 8 }), { maxLength: 4 }),
        fc.record({
          g: fc.integer({ min: 0, max: 2 }),
          limit: fc.integer({ min: 0, max: 40 }),
          mips: fc.integer({ min: 0, max: 8 }),
          ram: fc.integer({ min: 0, max: 8 }),
          stay: fc.integer({ min: 0, max: 90 }),
        }),
        (rows, updates, extraLevels, q) => {
          const table = tableOf(rows);
          const levels = Float64Array.from([0, ...extraLevels.sort((a, b) => a - b)]);
          const index = new LiveIndex(table, 3, levels);
          const state = rows.map((r) => ({ ...r }));
          const apply = (i: number) => {
            const r = state[i]!;
            if (r.present) index.set(i, r.mips, r.ram, r.end);
            else index.set(i, -1, -1, -Infinity);
          };
          rows.forEach((_, i) => {
            apply(i);
          });
          for (const u of updates) {
            const i = u.i % rows.length;
            Object.assign(state[i]!, { mips: u.mips, ram: u.ram, present: u.present });
            apply(i);
          }
          const expected = state
            .map((r, i) => ({ ...r, i }))
            .filter(
              (r) =>
                r.i < q.limit &&
                r.present &&
                r.mediators.includes(q.g) &&
                r.mips >= q.mips &&
                r.ram >= q.ram &&
                r.end >= q.stay,
            )
            .map((r) => r.i);
          const found: number[] = [];
          const until = index.below(q.g, q.limit);
          for (
            let p = index.first(q.g, 0, until, q.mips, q.ram, q.stay);
            p >= 0;
            p = index.first(q.g, p + 1, until, q.mips, q.ram, q.stay)
          )
            found.push(index.rankAt(q.g, p));
          expect(found).toEqual(expected);
        },
      ),
      { numRuns: 500 },
    );
  });

  it("refuses a query for less RAM than its lowest level (it could not bound such a search)", () => {
    const table = tableOf([{ end: 10, mips: 8, ram: 8, mediators: [0] }]);
    const index = new LiveIndex(table, 1, Float64Array.of(4));
    index.set(0, 8, 8, 10);

    expect(index.first(0, 0, 1, 1, 4, 5)).toBe(0);
    expect(() => index.first(0, 0, 1, 1, 2, 5)).toThrow(/RAM level/);
  });

  it("clear leaves nobody present", () => {
    const table = tableOf([{ end: 10, mips: 8, ram: 8, mediators: [0] }]);
    const index = new LiveIndex(table, 1, Float64Array.of(0));
    index.set(0, 8, 8, 10);
    expect(index.first(0, 0, 1, 1, 1, 5)).toBe(0);

    index.clear();

    expect(index.first(0, 0, 1, 1, 1, 5)).toBe(-1);
  });
});
