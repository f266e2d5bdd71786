// The sweep's clock (docs/auction.md): the fixed events of a round, sorted once, and the heap of
// the chunks still running. Everything is numbers in typed arrays: the sweep reads them in its hot loop.
import type { SupplierTable } from "../supplier-index.ts";
import type { OpenSupplierOffer } from "../types.ts";

/** Kinds of the sweep's fixed events, in the order they are handled at one instant (after chunk ends). */
export const SUPPLIER_LEAVES = 0;
export const SUPPLIER_ARRIVES = 1;
export const PRIOR_ENDS = 2;
export const WINDOW_OPENS = 3;

/** The sweep's fixed events by time (then kind, then id); segmentAt[e] is the segment a window event opens. */
export interface FixedEvents {
  readonly events: { readonly time: Float64Array; readonly kind: Int8Array; readonly id: Int32Array };
  readonly segmentAt: Int32Array;
  /** The first fixed event time ≥ x (Infinity when none). */
  readonly nextEventFrom: (x: number) => number;
}

/** What fixedEvents reads of the Customers: who can be served at all, and their segments. */
export interface CustomerSegments {
  /** 1 where Customer k can be served at all (a Supplier under its bid, a Mediator, chunks of δ_min). */
  readonly servable: Uint8Array;
  /** δ_min of each Customer. */
  readonly minService: Float64Array;
  readonly segFrom: Int32Array;
  readonly segStart: Float64Array;
  readonly segEnd: Float64Array;
}

/** Suppliers arriving and leaving, earlier commitments ending, windows opening; sorted once. */
export function fixedEvents(
  table: SupplierTable,
  suppliers: readonly OpenSupplierOffer[],
  customers: CustomerSegments,
): FixedEvents {
  const n = table.count;
  const { segFrom, segStart, segEnd } = customers;
  const times: number[] = [];
  const kinds: number[] = [];
  const ids: number[] = [];
  const segments: number[] = [];
  const event = (time: number, kind: number, id: number, seg = -1) => {
    times.push(time);
    kinds.push(kind);
    ids.push(id);
    segments.push(seg);
  };
  for (let i = 0; i < n; i++) {
    event(table.start[i]!, SUPPLIER_ARRIVES, i);
    event(table.end[i]!, SUPPLIER_LEAVES, i);
    for (const c of suppliers[i]!.commitments ?? [])
      if (c.end > table.start[i]! && c.end < table.end[i]!) event(c.end, PRIOR_ENDS, i);
  }
  for (let k = 0; k < customers.servable.length; k++) {
    if (!customers.servable[k]) continue;
    const dMin = customers.minService[k]!;
    for (let s = segFrom[k]!; s < segFrom[k + 1]!; s++)
      if (segEnd[s]! - segStart[s]! >= dMin) event(segStart[s]!, WINDOW_OPENS, k, s);
  }
  // Events were added by id (Suppliers by rank, Customers by index, segments in order), so the
  // order (time, kind, then as added) is the order (time, kind, id, segment).
  const byTime = sortByTimeThenKind(times, kinds);
  const events = {
    time: Float64Array.from(byTime, (e) => times[e]!),
    kind: Int8Array.from(byTime, (e) => kinds[e]!),
    id: Int32Array.from(byTime, (e) => ids[e]!),
  };
  const segmentAt = Int32Array.from(byTime, (e) => segments[e]!);
  const eventTimes = events.time;
  const nextEventFrom = (x: number) => {
    let lo = 0;
    let hi = eventTimes.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (eventTimes[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return lo < eventTimes.length ? eventTimes[lo]! : Infinity;
  };
  return { events, segmentAt, nextEventFrom };
}

/**
 * Event indices by (time, kind), ties in the order added. Where (time, kind, index) packs into one
 * exact double the native numeric sort does it; otherwise a comparison sort.
 */
function sortByTimeThenKind(times: readonly number[], kinds: readonly number[]): Int32Array {
  const count = times.length;
  let least = Infinity;
  let most = -Infinity;
  for (const t of times) {
    if (t < least) least = t;
    if (t > most) most = t;
  }
  const kindsCount = WINDOW_OPENS + 1;
  const integral = times.every(Number.isInteger);
  if (count === 0 || !integral || ((most - least + 1) * kindsCount + 1) * count >= Number.MAX_SAFE_INTEGER) {
    return Int32Array.from(times.keys()).sort(
      (a, b) => times[a]! - times[b]! || kinds[a]! - kinds[b]! || a - b,
    );
  }
  const keys = Float64Array.from(times, (t, e) => ((t - least) * kindsCount + kinds[e]!) * count + e).sort();
  return Int32Array.from(keys, (key) => key % count);
}

/** A binary min-heap of (time, chunk) for the chunks still running. */
export class EndHeap {
  #time: number[] = [];
  #chunk: number[] = [];
  get size(): number {
    return this.#time.length;
  }
  get top(): number {
    return this.#time.length ? this.#time[0]! : Infinity;
  }
  topChunk(): number {
    return this.#chunk[0]!;
  }
  push(time: number, chunk: number): void {
    const ts = this.#time;
    const cs = this.#chunk;
    let at = ts.length;
    ts.push(time);
    cs.push(chunk);
    while (at > 0) {
      const up = (at - 1) >> 1;
      if (ts[up]! <= time) break;
      ts[at] = ts[up]!;
      cs[at] = cs[up]!;
      at = up;
    }
    ts[at] = time;
    cs[at] = chunk;
  }
  pop(): void {
    const ts = this.#time;
    const cs = this.#chunk;
    const time = ts.pop()!;
    const chunk = cs.pop()!;
    const n = ts.length;
    if (n === 0) return;
    let at = 0;
    for (;;) {
      let child = 2 * at + 1;
      if (child >= n) break;
      if (child + 1 < n && ts[child + 1]! < ts[child]!) child++;
      if (ts[child]! >= time) break;
      ts[at] = ts[child]!;
      cs[at] = cs[child]!;
      at = child;
    }
    ts[at] = time;
    cs[at] = chunk;
  }
}
