// Sets of time windows, as the Allocator keeps a Customer offer's open windows: ascending and
// disjoint, so a window given back by a lapse or left over by a round joins its neighbours.
import type { TimeWindow } from "./feasibility.ts";

/** The union of `windows`, ascending and disjoint: overlapping or touching windows are joined. */
export function mergeWindows(windows: readonly TimeWindow[]): TimeWindow[] {
  const out: Array<{ start: number; end: number }> = [];
  for (const w of [...windows].sort((x, y) => x.start - y.start)) {
    const last = out.at(-1);
    if (last && w.start <= last.end) last.end = Math.max(last.end, w.end);
    else out.push({ start: w.start, end: w.end });
  }
  return out;
}
