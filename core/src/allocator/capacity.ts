// A Supplier offer's CPU and RAM over time: its capacity minus what allocations already took.
// Usage is a step function; it only changes where a commitment starts or ends.
import type { Commitment } from "./types.ts";

export type Fit =
  /** The demand fits from t until `until` (exclusive; the offer's end or where a commitment would overflow). */
  | { readonly ok: true; readonly until: number }
  /** It does not fit at t; `freeAt` is the next instant usage drops (Infinity when never in the window). */
  | { readonly ok: false; readonly freeAt: number };

export class CapacityTimeline {
  readonly capacityMips: number;
  readonly ramMb: number;
  readonly end: number;
  readonly #commitments: Commitment[] = [];
  // Usage as a step function: on [times[i], times[i+1]) the commitments use mips[i] and ram[i];
  // before times[0] and after the last breakpoint nothing is used.
  readonly #times: number[] = [];
  readonly #mips: number[] = [];
  readonly #ram: number[] = [];

  constructor(capacityMips: number, ramMb: number, end: number, commitments: readonly Commitment[] = []) {
    this.capacityMips = capacityMips;
    this.ramMb = ramMb;
    this.end = end;
    for (const c of commitments) this.add(c);
  }

  get commitments(): readonly Commitment[] {
    return this.#commitments;
  }

  /** Index of the last breakpoint ≤ t, or −1. */
  #segment(t: number): number {
    let lo = 0;
    let hi = this.#times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#times[mid]! <= t) lo = mid + 1;
      else hi = mid;
    }
    return lo - 1;
  }

  /** Makes t a breakpoint (copying the usage of the segment it splits) and returns its index. */
  #breakAt(t: number): number {
    const i = this.#segment(t);
    if (i >= 0 && this.#times[i] === t) return i;
    const mips = i >= 0 ? this.#mips[i]! : 0;
    const ram = i >= 0 ? this.#ram[i]! : 0;
    this.#times.splice(i + 1, 0, t);
    this.#mips.splice(i + 1, 0, mips);
    this.#ram.splice(i + 1, 0, ram);
    return i + 1;
  }

  add(c: Commitment): void {
    if (c.end <= c.start) return;
    this.#commitments.push(c);
    const first = this.#breakAt(c.start);
    const last = this.#breakAt(c.end);
    for (let i = first; i < last; i++) {
      this.#mips[i]! += c.mips;
      this.#ram[i]! += c.ramMb;
    }
  }

  /**
   * Whether `mips`/`ramMb` more fit at instant t, and until when (looking no further than
   * `horizon`, which bounds the work).
   */
  fit(t: number, mips: number, ramMb: number, horizon: number = this.end): Fit {
    const capM = this.capacityMips - mips;
    const capR = this.ramMb - ramMb;
    if (capM < 0 || capR < 0) return { ok: false, freeAt: Infinity };
    const times = this.#times;
    let i = this.#segment(t);
    if (i >= 0 && (this.#mips[i]! > capM || this.#ram[i]! > capR)) {
      return { ok: false, freeAt: i + 1 < times.length ? times[i + 1]! : Infinity };
    }
    const stop = Math.min(horizon, this.end);
    for (i++; i < times.length && times[i]! < stop; i++) {
      if (this.#mips[i]! > capM || this.#ram[i]! > capR) return { ok: true, until: times[i]! };
    }
    return { ok: true, until: this.end };
  }

  /**
   * Allocation-free `fit` for the auction's inner loop: until when (exclusive, at most the offer's
   * end) `mips`/`ramMb` more fit from instant t on, looking no further than `horizon`; −1 when they
   * do not fit at t.
   */
  fitUntil(t: number, mips: number, ramMb: number, horizon: number): number {
    const capM = this.capacityMips - mips;
    const capR = this.ramMb - ramMb;
    if (capM < 0 || capR < 0) return -1;
    const times = this.#times;
    let i = this.#segment(t);
    if (i >= 0 && (this.#mips[i]! > capM || this.#ram[i]! > capR)) return -1;
    const stop = Math.min(horizon, this.end);
    for (i++; i < times.length && times[i]! < stop; i++) {
      if (this.#mips[i]! > capM || this.#ram[i]! > capR) return times[i]!;
    }
    return this.end;
  }

  /** The first instant after t at which usage changes (Infinity when it never does again). */
  nextChange(t: number): number {
    const i = this.#segment(t) + 1;
    return i < this.#times.length ? this.#times[i]! : Infinity;
  }

  /** The most CPU and RAM in use at any instant of [start, end) (for checks and tests). */
  peak(start: number, end: number): { mips: number; ramMb: number } {
    return peakUsage(this.#commitments, start, end);
  }
}

/** The most CPU and RAM that `commitments` use together at any instant of [start, end). */
export function peakUsage(
  commitments: readonly Commitment[],
  start: number,
  end: number,
): { mips: number; ramMb: number } {
  const events: Array<[time: number, mips: number, ram: number]> = [];
  for (const c of commitments) {
    const s = Math.max(c.start, start);
    const e = Math.min(c.end, end);
    if (e <= s) continue;
    events.push([s, c.mips, c.ramMb], [e, -c.mips, -c.ramMb]);
  }
  events.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let mips = 0;
  let ram = 0;
  let peakMips = 0;
  let peakRam = 0;
  for (const [, dm, dr] of events) {
    mips += dm;
    ram += dr;
    if (mips > peakMips) peakMips = mips;
    if (ram > peakRam) peakRam = ram;
  }
  return { mips: peakMips, ramMb: peakRam };
}
