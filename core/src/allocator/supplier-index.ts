// The auction's index of the open Supplier offers (auction/). Suppliers are numbered by rank:
// their position when sorted by ask π_xmin ascending, then by offer id, so "cheaper" is "lower
// rank" and "asks at most the bid" is "rank below the bid's limit". The index is kept per
// Mediator: a Supplier appears under every Mediator it trusts (that is not its own account), so a
// query only ever meets Suppliers that can share that Mediator with the Customer.
//
// Everything is numbers in typed arrays (no objects in the searches); the index is a
// deterministic function of the ranked Supplier table and the sweep's updates.

import { InvalidParameterError } from "../errors.ts";

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

const INT32_MAX = 2 ** 31 - 1;
/** Scratch for LiveIndex.set: each level's value before, on the way up (at most 32 levels). */
const WAS = new Float64Array(32);

/** Scratch stacks: the right-hand canonical nodes of a range, and a descent's pending right children (depth ≤ 32). */
const RIGHT = new Int32Array(64);
const STACK = new Int32Array(64);

/**
 * The Suppliers present at the sweep's instant, per Mediator, for the auction's sweep (auction/sweep.ts): per
 * Mediator its Suppliers by rank under a segment tree of the CPU and RAM each has free now and
 * the time each leaves (a Supplier that has not arrived or has left has none free). In a sweep
 * every commitment of the round has started by the current instant, so what a Supplier has free
 * now it keeps until it leaves (commitments from earlier rounds aside: the caller checks those).
 *
 * "The cheapest Suppliers under g asking at most the bid, with room for I_c·λ MIPS and R_c MB, that
 * stay until t + δ_min" is a descent that skips subtrees without room. Free CPU and free RAM are
 * two dimensions: a subtree's most free MIPS and most free MB may belong to different Suppliers,
 * and a descent guided by both alone wanders. So each node also keeps, per RAM level ℓ (a few of
 * the RAM demands of the round's Customers), the most MIPS free at a Supplier with at least ℓ MB
 * free; a query for R MB uses the highest level ≤ R. Where every demand is a level (few distinct
 * RAM sizes, as in practice) the search is exact in both dimensions: O(log n) per Supplier found.
 */
export class LiveIndex {
  readonly #levels: Float64Array;
  /** Per Mediator: where its Suppliers start in #ranks, how many, where its tree starts, its leaf count. */
  readonly #from: Int32Array;
  readonly #count: Int32Array;
  readonly #treeStart: Int32Array;
  readonly #treeSize: Int32Array;
  readonly #ranks: Int32Array;
  /** Per Supplier and each of its Mediators (flattened in table order): its leaf, and where that tree starts. */
  readonly #leafFrom: Int32Array;
  readonly #leaves: Int32Array;
  readonly #leafTree: Int32Array;
  // Tree nodes: most free MB, latest end, and per RAM level the most free MIPS at a Supplier with
  // at least that much RAM free (node·L + level); −1 / −Infinity where nobody is present.
  // Free MIPS and MB are integers (the schema bounds them by 10^9 and 10^8), kept as 32-bit
  // integers for a smaller tree (larger values would be capped at 2^31 − 1).
  readonly #freeRam: Int32Array;
  readonly #end: Float64Array;
  readonly #freeMips: Int32Array;

  /** `ramLevels`: ascending, 1 to 16 of them, the first at most the least RAM any query asks. */
  constructor(table: SupplierTable, mediatorCount: number, ramLevels: Float64Array) {
    this.#levels = ramLevels;
    const n = table.count;
    this.#from = new Int32Array(mediatorCount);
    this.#count = new Int32Array(mediatorCount);
    this.#treeStart = new Int32Array(mediatorCount);
    this.#treeSize = new Int32Array(mediatorCount);
    this.#leafFrom = new Int32Array(n + 1);
    for (let i = 0; i < n; i++) {
      this.#leafFrom[i + 1] = this.#leafFrom[i]! + table.mediators[i]!.length;
      for (const g of table.mediators[i]!) this.#count[g]!++;
    }
    let entries = 0;
    let nodes = 0;
    for (let g = 0; g < mediatorCount; g++) {
      this.#from[g] = entries;
      entries += this.#count[g]!;
      this.#treeStart[g] = nodes;
      this.#treeSize[g] = pow2(this.#count[g]!);
      nodes += 2 * this.#treeSize[g]!;
    }
    this.#ranks = new Int32Array(entries);
    this.#leaves = new Int32Array(this.#leafFrom[n]!);
    this.#leafTree = new Int32Array(this.#leafFrom[n]!);
    const fill = new Int32Array(mediatorCount);
    // Suppliers are visited by rank, so each Mediator's list comes out by rank.
    for (let i = 0; i < n; i++) {
      table.mediators[i]!.forEach((g, k) => {
        const p = fill[g]!++;
        this.#ranks[this.#from[g]! + p] = i;
        this.#leaves[this.#leafFrom[i]! + k] = this.#treeStart[g]! + this.#treeSize[g]! + p;
        this.#leafTree[this.#leafFrom[i]! + k] = this.#treeStart[g]!;
      });
    }
    this.#freeRam = new Int32Array(nodes);
    this.#end = new Float64Array(nodes);
    this.#freeMips = new Int32Array(nodes * ramLevels.length);
    this.clear();
  }

  /** Nobody present (before a sweep). */
  clear(): void {
    this.#freeMips.fill(-1);
    this.#freeRam.fill(-1);
    this.#end.fill(-Infinity);
  }

  /** Supplier i is present with `mips`/`ramMb` free until `end` (−1, −1, −Infinity: absent). */
  set(i: number, freeMipsNow: number, freeRamNow: number, end: number): void {
    const mips = Math.min(freeMipsNow, INT32_MAX);
    const ramMb = Math.min(freeRamNow, INT32_MAX);
    const freeMips = this.#freeMips;
    const freeRam = this.#freeRam;
    const ends = this.#end;
    const levels = this.#levels;
    const L = levels.length;
    const was = WAS;
    const leaves = this.#leaves;
    const trees = this.#leafTree;
    for (let x = this.#leafFrom[i]!, last = this.#leafFrom[i + 1]!; x < last; x++) {
      const at = trees[x]!;
      const node = leaves[x]!;
      // Which values may still change on the way up: bit j for level j, bit L for RAM and end. On
      // the way up, was[j] is what the child on the path held before.
      let pending = freeRam[node] !== ramMb || ends[node] !== end ? 1 << L : 0;
      freeRam[node] = ramMb;
      ends[node] = end;
      for (let j = 0; j < L; j++) {
        const v = ramMb >= levels[j]! ? mips : -1;
        const old = freeMips[node * L + j]!;
        if (old !== v) {
          was[j] = old;
          freeMips[node * L + j] = v;
          pending |= 1 << j;
        }
      }
      for (let child = node - at; child > 1 && pending !== 0; child >>= 1) {
        const a = at + (child >> 1);
        const c = at + child;
        const sibling = at + (child ^ 1);
        if (pending & (1 << L)) {
          const r = Math.max(freeRam[c]!, freeRam[sibling]!);
          const e = Math.max(ends[c]!, ends[sibling]!);
          if (r === freeRam[a] && e === ends[a]) pending &= ~(1 << L);
          else {
            freeRam[a] = r;
            ends[a] = e;
          }
        }
        for (let j = 0; j < L; j++) {
          if (!(pending & (1 << j))) continue;
          const parent = freeMips[a * L + j]!;
          const now = freeMips[c * L + j]!;
          // A child that grew raises its parent at most to its value; one that shrank changes
          // its parent only if it held the parent's value.
          const v =
            now > was[j]!
              ? Math.max(parent, now)
              : parent > was[j]!
                ? parent
                : Math.max(now, freeMips[sibling * L + j]!);
          if (v === parent) pending &= ~(1 << j);
          else {
            was[j] = parent;
            freeMips[a * L + j] = v;
          }
        }
      }
    }
  }

  /** How many of Mediator g's Suppliers have a rank below `limit` (they come first). */
  below(g: number, limit: number): number {
    const from = this.#from[g]!;
    return lowerBound(this.#ranks, from, from + this.#count[g]!, limit, false) - from;
  }

  rankAt(g: number, p: number): number {
    return this.#ranks[this.#from[g]! + p]!;
  }

  /**
   * The first position in [from, until) of Mediator g's list whose Supplier is present with at
   * least `mips`/`ramMb` free and stays until `stayUntil` at least; −1 if none.
   */
  first(g: number, from: number, until: number, mips: number, ramMb: number, stayUntil: number): number {
    if (from >= until) return -1;
    const levels = this.#levels;
    if (ramMb < levels[0]!)
      throw new InvalidParameterError("ramMb", ramMb, `at least the lowest RAM level ${levels[0]}`);
    let level = 0;
    while (level + 1 < levels.length && levels[level + 1]! <= ramMb) level++;
    const size = this.#treeSize[g]!;
    const at = this.#treeStart[g]!;
    let lo = from + size;
    let hi = until + size;
    const right = RIGHT;
    let stacked = 0;
    while (lo < hi) {
      if (lo & 1) {
        const found = this.#search(at, size, lo, level, mips, ramMb, stayUntil);
        if (found >= 0) return found;
        lo++;
      }
      if (hi & 1) right[stacked++] = --hi;
      lo >>= 1;
      hi >>= 1;
    }
    while (stacked > 0) {
      const found = this.#search(at, size, right[--stacked]!, level, mips, ramMb, stayUntil);
      if (found >= 0) return found;
    }
    return -1;
  }

  /** The first leaf under `node` (a position) that qualifies, or −1: a depth-first descent with an explicit stack. */
  #search(
    at: number,
    size: number,
    node: number,
    level: number,
    mips: number,
    ramMb: number,
    stayUntil: number,
  ): number {
    const freeMips = this.#freeMips;
    const freeRam = this.#freeRam;
    const ends = this.#end;
    const L = this.#levels.length;
    const stack = STACK;
    let depth = 0;
    for (;;) {
      const a = at + node;
      if (freeMips[a * L + level]! >= mips && freeRam[a]! >= ramMb && ends[a]! >= stayUntil) {
        if (node >= size) return node - size;
        // Left first; the right sibling waits on the stack.
        stack[depth++] = 2 * node + 1;
        node = 2 * node;
        continue;
      }
      if (depth === 0) return -1;
      node = stack[--depth]!;
    }
  }
}
