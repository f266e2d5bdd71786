// The auction's indexes of the open Supplier offers (auction.ts). Suppliers are numbered by rank:
// their position when sorted by ask π_xmin ascending, then by offer id, so "cheaper" is "lower
// rank" and "asks at most the bid" is "rank below the bid's limit". Both indexes are kept per
// Mediator: a Supplier appears under every Mediator it trusts (that is not its own account), so a
// query only ever meets Suppliers that can share that Mediator with the Customer.
//
// - SlotIndex answers "the cheapest Supplier under Mediator g that is there at t, stays at least
//   until t + δ_min, and may have room for I_c·λ MIPS and R_c MB": time is cut into equal slots;
//   per (g, slot) the Suppliers whose window meets the slot are listed by rank, under a segment
//   tree of the most CPU and RAM each has free somewhere in the slot, its start and its end. A
//   search descends only into subtrees where some Supplier may qualify, so Suppliers that are full,
//   absent or too small are skipped in O(log n) instead of one by one. The caller checks the exact
//   fit (CapacityTimeline) of what the search returns.
// - ArrivalIndex answers "the earliest Supplier under g arriving in (t, t') that asks less than a
//   given rank and is large enough": per g, the Suppliers by start time under a segment tree of
//   their least rank and largest CPU and RAM.
//
// Everything is numbers in typed arrays (no objects in the searches); both are deterministic
// functions of the ranked Supplier table.
import type { CapacityTimeline } from "./capacity.ts";

/** The live Supplier offers of one round, by rank. */
export interface SupplierTable {
  readonly count: number;
  /** Effective start: max(s_start, now + δ_alloc + δ_setup). */
  readonly start: Float64Array;
  readonly end: Float64Array;
  readonly capacityMips: Float64Array;
  readonly ramMb: Float64Array;
  /** Account, as a small integer (equal accounts, equal numbers). */
  readonly account: Int32Array;
  /** The Mediators (small integers) each Supplier can be allocated with. */
  readonly mediators: readonly Int32Array[];
}

const pow2 = (n: number) => {
  let size = 1;
  while (size < n) size <<= 1;
  return size;
};

/** Smallest index in sorted `xs[from, to)` whose value is ≥ x (or > x when `strict`). */
function lowerBound(xs: ArrayLike<number>, from: number, to: number, x: number, strict: boolean): number {
  let lo = from;
  let hi = to;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (xs[mid]! < x || (strict && xs[mid]! === x)) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Most slots per typical window: more slots make the free-capacity bounds tighter and the lists longer. */
const SLOTS_PER_WINDOW = 8;
/** Bound on index entries per (Supplier, Mediator) pair on average. */
const MAX_ENTRIES_PER_PAIR = 64;

export class SlotIndex {
  readonly origin: number;
  readonly slotSeconds: number;
  readonly #table: SupplierTable;
  /** Per Mediator: its first slot, slot count, and the index of its first (g, slot) list. */
  readonly #firstSlot: Int32Array;
  readonly #slotCount: Int32Array;
  readonly #listBase: Int32Array;
  /** Per (g, slot) list: where its ranks start in #ranks, its length, where its tree starts, the tree's leaf count. */
  readonly #listStart: Int32Array;
  readonly #listLength: Int32Array;
  readonly #treeStart: Int32Array;
  readonly #treeSize: Int32Array;
  /** Slot of each list (to know its time span). */
  readonly #listSlot: Int32Array;
  readonly #ranks: Int32Array;
  // Tree nodes (1-based within each tree): most free MIPS and MB, least start, greatest end.
  readonly #freeMips: Float64Array;
  readonly #freeRam: Float64Array;
  readonly #start: Float64Array;
  readonly #end: Float64Array;
  readonly #initial: Float64Array[];

  constructor(
    table: SupplierTable,
    mediatorCount: number,
    timelines: ReadonlyArray<CapacityTimeline | undefined>,
  ) {
    this.#table = table;
    const n = table.count;
    let origin = Infinity;
    let horizon = -Infinity;
    const durations = new Float64Array(n);
    let pairs = 0;
    for (let i = 0; i < n; i++) {
      origin = Math.min(origin, table.start[i]!);
      horizon = Math.max(horizon, table.end[i]!);
      durations[i] = table.end[i]! - table.start[i]!;
      pairs += table.mediators[i]!.length;
    }
    durations.sort();
    let slotSeconds = n === 0 ? 1 : Math.max(1, Math.ceil(durations[n >> 1]! / SLOTS_PER_WINDOW));
    // Keep the index about linear in the offers whatever the windows look like: entries, and
    // lists (each Mediator's span of slots).
    const spanFrom = new Float64Array(mediatorCount).fill(Infinity);
    const spanTo = new Float64Array(mediatorCount).fill(-Infinity);
    for (let i = 0; i < n; i++) {
      for (const g of table.mediators[i]!) {
        spanFrom[g] = Math.min(spanFrom[g]!, table.start[i]!);
        spanTo[g] = Math.max(spanTo[g]!, table.end[i]!);
      }
    }
    const entriesAt = (seconds: number) => {
      let entries = 0;
      for (let i = 0; i < n; i++)
        entries += table.mediators[i]!.length * ((table.end[i]! - table.start[i]!) / seconds + 2);
      for (let g = 0; g < mediatorCount; g++)
        if (spanTo[g]! > spanFrom[g]!) entries += (spanTo[g]! - spanFrom[g]!) / seconds + 2;
      return entries;
    };
    while (entriesAt(slotSeconds) > MAX_ENTRIES_PER_PAIR * pairs + 16) slotSeconds *= 2;
    this.origin = n === 0 ? 0 : origin;
    this.slotSeconds = slotSeconds;

    // Members of each Mediator, by rank, and the slots they cover.
    const members: number[][] = Array.from({ length: mediatorCount }, () => []);
    for (let i = 0; i < n; i++) for (const g of table.mediators[i]!) members[g]!.push(i);
    this.#firstSlot = new Int32Array(mediatorCount);
    this.#slotCount = new Int32Array(mediatorCount);
    this.#listBase = new Int32Array(mediatorCount);
    let lists = 0;
    for (let g = 0; g < mediatorCount; g++) {
      const ms = members[g]!;
      let first = Infinity;
      let last = -Infinity;
      for (const i of ms) {
        first = Math.min(first, this.slotOf(table.start[i]!));
        last = Math.max(last, this.slotOf(table.end[i]! - 1));
      }
      this.#firstSlot[g] = ms.length ? first : 0;
      this.#slotCount[g] = ms.length ? last - first + 1 : 0;
      this.#listBase[g] = lists;
      lists += this.#slotCount[g]!;
    }
    this.#listStart = new Int32Array(lists + 1);
    this.#listLength = new Int32Array(lists);
    this.#treeStart = new Int32Array(lists);
    this.#treeSize = new Int32Array(lists);
    this.#listSlot = new Int32Array(lists);
    for (let g = 0; g < mediatorCount; g++) {
      for (const i of members[g]!) {
        const base = this.#listBase[g]! - this.#firstSlot[g]!;
        const last = this.slotOf(table.end[i]! - 1);
        for (let k = this.slotOf(table.start[i]!); k <= last; k++) this.#listLength[base + k]!++;
      }
      for (let k = 0; k < this.#slotCount[g]!; k++)
        this.#listSlot[this.#listBase[g]! + k] = this.#firstSlot[g]! + k;
    }
    let entries = 0;
    let nodes = 0;
    for (let l = 0; l < lists; l++) {
      this.#listStart[l] = entries;
      entries += this.#listLength[l]!;
      this.#treeStart[l] = nodes;
      this.#treeSize[l] = pow2(this.#listLength[l]!);
      nodes += 2 * this.#treeSize[l]!;
    }
    this.#listStart[lists] = entries;
    this.#ranks = new Int32Array(entries);
    const fill = new Int32Array(lists);
    for (let g = 0; g < mediatorCount; g++) {
      const base = this.#listBase[g]! - this.#firstSlot[g]!;
      for (const i of members[g]!) {
        const last = this.slotOf(table.end[i]! - 1);
        for (let k = this.slotOf(table.start[i]!); k <= last; k++) {
          const l = base + k;
          this.#ranks[this.#listStart[l]! + fill[l]!++] = i;
        }
      }
    }
    this.#freeMips = new Float64Array(nodes).fill(-1);
    this.#freeRam = new Float64Array(nodes).fill(-1);
    this.#start = new Float64Array(nodes).fill(Infinity);
    this.#end = new Float64Array(nodes).fill(-Infinity);
    for (let l = 0; l < lists; l++) {
      const size = this.#treeSize[l]!;
      const at = this.#treeStart[l]!;
      const from = this.#listStart[l]!;
      for (let p = 0; p < this.#listLength[l]!; p++) {
        const i = this.#ranks[from + p]!;
        this.#start[at + size + p] = table.start[i]!;
        this.#end[at + size + p] = table.end[i]!;
        this.#setLeafFree(l, p, i, timelines[i]);
      }
      for (let node = size - 1; node >= 1; node--) {
        const a = at + node;
        const left = at + 2 * node;
        this.#freeMips[a] = Math.max(this.#freeMips[left]!, this.#freeMips[left + 1]!);
        this.#freeRam[a] = Math.max(this.#freeRam[left]!, this.#freeRam[left + 1]!);
        this.#start[a] = Math.min(this.#start[left]!, this.#start[left + 1]!);
        this.#end[a] = Math.max(this.#end[left]!, this.#end[left + 1]!);
      }
    }
    this.#initial = [this.#freeMips, this.#freeRam].map((a) => a.slice());
  }

  /** Back to the free capacities the index was built with (before another greedy pass). */
  reset(): void {
    [this.#freeMips, this.#freeRam].forEach((a, k) => {
      a.set(this.#initial[k]!);
    });
  }

  slotOf(t: number): number {
    return Math.floor((t - this.origin) / this.slotSeconds);
  }

  /** Where the slot of t ends: from there on other Suppliers may be listed, or listed with more room. */
  slotEnd(t: number): number {
    return this.origin + (this.slotOf(t) + 1) * this.slotSeconds;
  }

  /** The list of Mediator g at instant t (−1 when g has no Supplier there). */
  list(g: number, t: number): number {
    const k = this.slotOf(t) - this.#firstSlot[g]!;
    return k >= 0 && k < this.#slotCount[g]! ? this.#listBase[g]! + k : -1;
  }

  /** How many entries of list l have a rank below `limit` (they come first: lists are by rank). */
  below(l: number, limit: number): number {
    const from = this.#listStart[l]!;
    return lowerBound(this.#ranks, from, from + this.#listLength[l]!, limit, false) - from;
  }

  rankAt(l: number, p: number): number {
    return this.#ranks[this.#listStart[l]! + p]!;
  }

  /**
   * The first position in [from, until) of list l whose Supplier may take `mips`/`ramMb` more
   * somewhere in the slot, has started by t and stays until `stayUntil` at least; −1 if none.
   */
  first(
    l: number,
    from: number,
    until: number,
    mips: number,
    ramMb: number,
    t: number,
    stayUntil: number,
  ): number {
    if (from >= until) return -1;
    const size = this.#treeSize[l]!;
    const at = this.#treeStart[l]!;
    let lo = from + size;
    let hi = until + size;
    // Canonical nodes of [from, until): the left ones in order, the right ones stacked.
    const right = RIGHT;
    let stacked = 0;
    const freeMips = this.#freeMips;
    const freeRam = this.#freeRam;
    while (lo < hi) {
      if (lo & 1) {
        const found = this.#search(freeMips, freeRam, at, size, lo, mips, ramMb, t, stayUntil);
        if (found >= 0) return found;
        lo++;
      }
      if (hi & 1) right[stacked++] = --hi;
      lo >>= 1;
      hi >>= 1;
    }
    while (stacked > 0) {
      const found = this.#search(freeMips, freeRam, at, size, right[--stacked]!, mips, ramMb, t, stayUntil);
      if (found >= 0) return found;
    }
    return -1;
  }

  #search(
    freeMips: Float64Array,
    freeRam: Float64Array,
    at: number,
    size: number,
    node: number,
    mips: number,
    ramMb: number,
    t: number,
    stayUntil: number,
  ): number {
    const a = at + node;
    if (freeMips[a]! < mips || freeRam[a]! < ramMb || this.#start[a]! > t || this.#end[a]! < stayUntil)
      return -1;
    if (node >= size) return node - size;
    const left = this.#search(freeMips, freeRam, at, size, 2 * node, mips, ramMb, t, stayUntil);
    return left >= 0
      ? left
      : this.#search(freeMips, freeRam, at, size, 2 * node + 1, mips, ramMb, t, stayUntil);
  }

  #setLeafFree(l: number, p: number, i: number, timeline: CapacityTimeline | undefined): void {
    const leaf = this.#treeStart[l]! + this.#treeSize[l]! + p;
    const table = this.#table;
    if (!timeline) {
      this.#freeMips[leaf] = table.capacityMips[i]!;
      this.#freeRam[leaf] = table.ramMb[i]!;
      return;
    }
    const slotStart = this.origin + this.#listSlot[l]! * this.slotSeconds;
    const from = Math.max(table.start[i]!, slotStart);
    const to = Math.min(table.end[i]!, slotStart + this.slotSeconds);
    const use = USE;
    timeline.usageRange(from, to, use);
    this.#freeMips[leaf] = table.capacityMips[i]! - use[0]!;
    this.#freeRam[leaf] = table.ramMb[i]! - use[1]!;
  }

  /** Re-reads Supplier i's free capacity in the slots [from, to) meets, under each of its Mediators. */
  update(i: number, from: number, to: number, timeline: CapacityTimeline): void {
    for (const g of this.#table.mediators[i]!) {
      const first = Math.max(this.slotOf(from), this.#firstSlot[g]!);
      const last = Math.min(this.slotOf(to - 1), this.#firstSlot[g]! + this.#slotCount[g]! - 1);
      for (let k = first; k <= last; k++) {
        const l = this.#listBase[g]! + k - this.#firstSlot[g]!;
        const start = this.#listStart[l]!;
        const p = lowerBound(this.#ranks, start, start + this.#listLength[l]!, i, false) - start;
        if (p >= this.#listLength[l]! || this.#ranks[start + p] !== i) continue;
        this.#setLeafFree(l, p, i, timeline);
        const at = this.#treeStart[l]!;
        for (let node = (this.#treeSize[l]! + p) >> 1; node >= 1; node >>= 1) {
          const a = at + node;
          const left = at + 2 * node;
          const mips = Math.max(this.#freeMips[left]!, this.#freeMips[left + 1]!);
          const ram = Math.max(this.#freeRam[left]!, this.#freeRam[left + 1]!);
          if (mips === this.#freeMips[a] && ram === this.#freeRam[a]) break;
          this.#freeMips[a] = mips;
          this.#freeRam[a] = ram;
        }
      }
    }
  }
}

/** Scratch stack for the right-hand canonical nodes of a range (depth ≤ 32). */
const RIGHT = new Int32Array(64);
/** Scratch for CapacityTimeline.usageRange. */
const USE = new Float64Array(4);

export class ArrivalIndex {
  /** Per Mediator: where its Suppliers start in the flat arrays, how many, where its tree starts, its leaf count. */
  readonly #from: Int32Array;
  readonly #count: Int32Array;
  readonly #treeStart: Int32Array;
  readonly #treeSize: Int32Array;
  /** Supplier starts and ranks, per Mediator by (start, rank). */
  readonly #starts: Float64Array;
  readonly #ranks: Int32Array;
  // Tree nodes: least rank, largest CPU and RAM.
  readonly #rank: Float64Array;
  readonly #mips: Float64Array;
  readonly #ram: Float64Array;

  constructor(table: SupplierTable, mediatorCount: number) {
    const members: number[][] = Array.from({ length: mediatorCount }, () => []);
    for (let i = 0; i < table.count; i++) for (const g of table.mediators[i]!) members[g]!.push(i);
    this.#from = new Int32Array(mediatorCount);
    this.#count = new Int32Array(mediatorCount);
    this.#treeStart = new Int32Array(mediatorCount);
    this.#treeSize = new Int32Array(mediatorCount);
    let entries = 0;
    let nodes = 0;
    for (let g = 0; g < mediatorCount; g++) {
      members[g]!.sort((a, b) => table.start[a]! - table.start[b]! || a - b);
      this.#from[g] = entries;
      this.#count[g] = members[g]!.length;
      entries += members[g]!.length;
      this.#treeStart[g] = nodes;
      this.#treeSize[g] = pow2(members[g]!.length);
      nodes += 2 * this.#treeSize[g]!;
    }
    this.#starts = new Float64Array(entries);
    this.#ranks = new Int32Array(entries);
    this.#rank = new Float64Array(nodes).fill(Infinity);
    this.#mips = new Float64Array(nodes).fill(-1);
    this.#ram = new Float64Array(nodes).fill(-1);
    for (let g = 0; g < mediatorCount; g++) {
      const at = this.#treeStart[g]!;
      const size = this.#treeSize[g]!;
      members[g]!.forEach((i, p) => {
        this.#starts[this.#from[g]! + p] = table.start[i]!;
        this.#ranks[this.#from[g]! + p] = i;
        this.#rank[at + size + p] = i;
        this.#mips[at + size + p] = table.capacityMips[i]!;
        this.#ram[at + size + p] = table.ramMb[i]!;
      });
      for (let node = size - 1; node >= 1; node--) {
        const a = at + node;
        const left = at + 2 * node;
        this.#rank[a] = Math.min(this.#rank[left]!, this.#rank[left + 1]!);
        this.#mips[a] = Math.max(this.#mips[left]!, this.#mips[left + 1]!);
        this.#ram[a] = Math.max(this.#ram[left]!, this.#ram[left + 1]!);
      }
    }
  }

  /** The first position of Mediator g's list whose Supplier starts after t (`strict`) or at t or later. */
  startingFrom(g: number, t: number, strict: boolean): number {
    const from = this.#from[g]!;
    return lowerBound(this.#starts, from, from + this.#count[g]!, t, strict) - from;
  }

  rankAt(g: number, p: number): number {
    return this.#ranks[this.#from[g]! + p]!;
  }

  /**
   * The first position in [from, until) of Mediator g's list (by start time) whose Supplier has a
   * rank below `rankBelow` and at least `mips`/`ramMb` of capacity; −1 if none.
   */
  first(g: number, from: number, until: number, rankBelow: number, mips: number, ramMb: number): number {
    return from < until ? this.#first(g, from, until, rankBelow, mips, ramMb) : -1;
  }

  #first(g: number, from: number, until: number, rankBelow: number, mips: number, ramMb: number): number {
    const size = this.#treeSize[g]!;
    const at = this.#treeStart[g]!;
    let lo = from + size;
    let hi = until + size;
    const right = RIGHT;
    let stacked = 0;
    while (lo < hi) {
      if (lo & 1) {
        const found = this.#search(at, size, lo, rankBelow, mips, ramMb);
        if (found >= 0) return found;
        lo++;
      }
      if (hi & 1) right[stacked++] = --hi;
      lo >>= 1;
      hi >>= 1;
    }
    while (stacked > 0) {
      const found = this.#search(at, size, right[--stacked]!, rankBelow, mips, ramMb);
      if (found >= 0) return found;
    }
    return -1;
  }

  #search(at: number, size: number, node: number, rankBelow: number, mips: number, ramMb: number): number {
    const a = at + node;
    if (this.#rank[a]! >= rankBelow || this.#mips[a]! < mips || this.#ram[a]! < ramMb) return -1;
    if (node >= size) return node - size;
    const left = this.#search(at, size, 2 * node, rankBelow, mips, ramMb);
    return left >= 0 ? left : this.#search(at, size, 2 * node + 1, rankBelow, mips, ramMb);
  }
}
