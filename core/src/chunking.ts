// Chunking of a long Customer offer into consecutive sub-offers (paper §2.2 "Resource
// Availability", §3.3): each sub-offer is no shorter than the minimum service time δ_min, and
// together they tile the Customer's window without gap or overlap.
import { InvalidParameterError } from "./errors.ts";
import type { TimeWindow } from "./feasibility.ts";

/**
 * Cuts [start, end) into consecutive chunks of `chunkSeconds`; a remainder shorter than
 * `minServiceSeconds` is merged into the chunk before it, so every chunk lasts at least
 * `minServiceSeconds` (and at most `chunkSeconds + minServiceSeconds`).
 */
export function chunkWindow(
  window: TimeWindow,
  chunkSeconds: number,
  minServiceSeconds: number,
): TimeWindow[] {
  const { start, end } = window;
  if (!Number.isInteger(minServiceSeconds) || minServiceSeconds <= 0) {
    throw new InvalidParameterError("minServiceSeconds", minServiceSeconds, "a positive integer");
  }
  if (!Number.isInteger(chunkSeconds) || chunkSeconds < minServiceSeconds) {
    throw new InvalidParameterError(
      "chunkSeconds",
      chunkSeconds,
      `an integer ≥ minServiceSeconds (${minServiceSeconds})`,
    );
  }
  if (end - start < minServiceSeconds) {
    throw new InvalidParameterError("window", `[${start}, ${end})`, `at least ${minServiceSeconds} s long`);
  }
  const chunks: TimeWindow[] = [];
  let cursor = start;
  while (end - cursor >= chunkSeconds + minServiceSeconds) {
    chunks.push({ start: cursor, end: cursor + chunkSeconds });
    cursor += chunkSeconds;
  }
  // What is left is shorter than chunkSeconds + δ_min: splitting it could leave a piece shorter
  // than δ_min, so it stays one chunk.
  chunks.push({ start: cursor, end });
  return chunks;
}

/**
 * Cuts [start, end) at the given instants (e.g. where Supplier windows end), dropping cuts that
 * would leave a piece shorter than `minServiceSeconds`. The pieces tile the window.
 */
export function cutWindow(
  window: TimeWindow,
  cuts: readonly number[],
  minServiceSeconds: number,
): TimeWindow[] {
  if (window.end - window.start < minServiceSeconds) {
    throw new InvalidParameterError(
      "window",
      `[${window.start}, ${window.end})`,
      `at least ${minServiceSeconds} s long`,
    );
  }
  const pieces: TimeWindow[] = [];
  let cursor = window.start;
  for (const cut of [...new Set(cuts)].sort((a, b) => a - b)) {
    if (cut - cursor >= minServiceSeconds && window.end - cut >= minServiceSeconds) {
      pieces.push({ start: cursor, end: cut });
      cursor = cut;
    }
  }
  pieces.push({ start: cursor, end: window.end });
  return pieces;
}
