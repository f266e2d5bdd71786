// The Customer's sensor source: where the live inputs of its stream come from. The hidden tests
// are secret positions of this same stream (paper §3.4, issue 14 threat 8), so a source has no
// notion of a test: every input, tested or not, comes in order, at its time, with its own bytes.
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { prng } from "@surplus/core";
import { syntheticFrame } from "./frames.ts";

export * from "./frames.ts";

export interface InputSource {
  /** The next live input. */
  next(): Promise<Uint8Array>;
}

export const SourceKind = { Frames: "frames", Telemetry: "telemetry", File: "file", Stdin: "stdin" } as const;
export type SourceKind = (typeof SourceKind)[keyof typeof SourceKind];

/** Bus telemetry rows for the bus-energy service: five f64 (speed, acceleration, grade, mass, dt). */
export function telemetry(random: () => number): Uint8Array {
  return new Uint8Array(
    new Float64Array([random() * 20, random() * 4 - 2, random() * 0.1 - 0.05, 12_000 + random() * 6_000, 1])
      .buffer,
  );
}

/** A seeded generator: camera-like frames (people counter) or bus telemetry (bus energy). */
export function generatorSource(kind: "frames" | "telemetry", seed: number): InputSource {
  const draw = kind === "frames" ? syntheticFrame : telemetry;
  const live = prng(seed);
  return { next: async () => draw(live) };
}

/**
 * One input per line of a text file, in order, starting over at the end. `_seed` is kept for
 * callers of the earlier signature: there is nothing random left to draw.
 */
export function fileSource(path: string, _seed?: number): InputSource {
  const lines = readFileSync(path, "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => new TextEncoder().encode(l));
  if (lines.length === 0) throw new Error(`source file ${path} has no lines`);
  let i = 0;
  return { next: async () => lines[i++ % lines.length]! };
}

/**
 * One input per line of a stream (stdin), in order; after the end of the stream its last line
 * repeats (an allocation has a fixed λΔ).
 */
export function lineSource(stream: Readable): InputSource {
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY })[
    Symbol.asyncIterator
  ]();
  let last = new Uint8Array();
  const read = async () => {
    const r = await lines.next();
    if (!r.done) last = new TextEncoder().encode(r.value);
    return last;
  };
  return { next: read };
}
