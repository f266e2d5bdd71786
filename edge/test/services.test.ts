// The example services, run in the sandbox, against reference implementations in TypeScript.
import { readFileSync } from "node:fs";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ServiceSandbox } from "../src/index.ts";
import { encodeFrame, prng, syntheticFrame } from "../src/sources/frames.ts";

const wasm = (name: string) => readFileSync(new URL(`../build/${name}.wasm`, import.meta.url));

/** Reference: 4-connected components of pixels ≥ 128 with at least 4 pixels. */
function referenceCount(frame: Uint8Array): number {
  const view = new DataView(frame.buffer, frame.byteOffset);
  const w = view.getUint16(0, true);
  const h = view.getUint16(2, true);
  const px = frame.subarray(4);
  const seen = new Uint8Array(w * h);
  let count = 0;
  for (let s = 0; s < w * h; s++) {
    if (seen[s] || px[s]! < 128) continue;
    let area = 0;
    const stack = [s];
    seen[s] = 1;
    while (stack.length) {
      const p = stack.pop()!;
      area++;
      const x = p % w;
      const y = Math.floor(p / w);
      for (const [ok, q] of [
        [x > 0, p - 1],
        [x < w - 1, p + 1],
        [y > 0, p - w],
        [y < h - 1, p + w],
      ] as const) {
        if (ok && !seen[q] && px[q]! >= 128) {
          seen[q] = 1;
          stack.push(q);
        }
      }
    }
    if (area >= 4) count++;
  }
  return count;
}

/** Reference of the bus energy model. */
function referenceEnergy([v, a, grade, m, dt]: number[]): number {
  const f =
    m! * a! + m! * 9.81 * Math.sin(grade!) + 0.008 * m! * 9.81 * Math.cos(grade!) + 0.5 * 1.2 * 6.5 * v! * v!;
  const p = f * v!;
  return ((p >= 0 ? p / 0.85 : p * 0.6) * dt!) / 3.6e6;
}

describe("people-counter", () => {
  let sandbox: ServiceSandbox;
  beforeAll(() => {
    sandbox = ServiceSandbox.load(wasm("people-counter"));
  });
  afterAll(() => sandbox.close());

  it("counts the blobs of synthetic frames exactly as the reference does", async () => {
    const random = prng(42);
    const frames = Array.from({ length: 200 }, () => syntheticFrame(random));
    const results = await sandbox.process(frames);
    const counts = results.map((r) => (r.ok ? new DataView(r.output.buffer).getUint32(0, true) : -1));
    expect(counts).toEqual(frames.map(referenceCount));
    expect(new Set(counts).size).toBeGreaterThan(3);
  });

  it("agrees with the reference on arbitrary small images", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 12 }),
        fc
          .integer({ min: 1, max: 12 })
          .chain((h) => fc.tuple(fc.constant(h), fc.uint8Array({ minLength: 144, maxLength: 144 }))),
        async (w, [h, bytes]) => {
          const frame = encodeFrame(w, h, bytes.subarray(0, w * h));
          const [r] = await sandbox.process([frame]);
          expect(r!.ok && new DataView(r!.output.buffer).getUint32(0, true)).toBe(referenceCount(frame));
        },
      ),
      { numRuns: 100 },
    );
  });

  it("answers a malformed frame with the sentinel, not a trap", async () => {
    const [r] = await sandbox.process([new Uint8Array([200, 0, 200, 0, 1])]);
    expect(r!.ok && new DataView(r!.output.buffer).getUint32(0, true)).toBe(0xffffffff);
  });
});

describe("bus-energy", () => {
  it("computes the longitudinal model's energy like the reference, and is deterministic", async () => {
    const sandbox = ServiceSandbox.load(wasm("bus-energy"));
    try {
      const random = prng(7);
      const rows = Array.from({ length: 100 }, () => [
        random() * 20,
        random() * 4 - 2,
        random() * 0.1 - 0.05,
        12_000 + random() * 6_000,
        1,
      ]);
      const inputs = rows.map((r) => new Uint8Array(new Float64Array(r).buffer));
      const first = await sandbox.process(inputs);
      const again = await sandbox.process(inputs);
      expect(again).toEqual(first);
      first.forEach((r, i) => {
        expect(r.ok).toBe(true);
        if (r.ok)
          expect(new DataView(r.output.buffer).getFloat64(0, true)).toBeCloseTo(
            referenceEnergy(rows[i]!),
            12,
          );
      });
    } finally {
      await sandbox.close();
    }
  });
});
