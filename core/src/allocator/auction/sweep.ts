// One greedy pass (docs/auction.md, steps 2-3): a sweep over time that serves the waiting Customers
// at each instant something changes. The hot loop of a round: numbers only, no allocation objects.
import { CapacityTimeline } from "../capacity.ts";
import type { OpenSupplierOffer } from "../types.ts";
import { EndHeap, PRIOR_ENDS, SUPPLIER_ARRIVES, SUPPLIER_LEAVES } from "./events.ts";
import {
  MAX_MEDIATORS,
  MAX_REPLICAS,
  type Market,
  ROW,
  ROW_FLAGS,
  ROW_LIMIT,
  ROW_MEDIATORS,
  ROW_MEDIATORS_END,
  ROW_MIN_SERVICE,
  ROW_MIPS,
  ROW_RAM,
  ROW_SEGMENT_END,
} from "./market.ts";
import { finishPass, type Pass } from "./outcome.ts";

/** Among the waiting Customers (or about to be). */
const WAITING = 1;
/** Not tried since it started waiting (or since its window opened again). */
const FRESH = 2;

// Scratch space of one attempt: each Mediator's candidate group (ranks, how long each can serve).
const candidateRank = new Int32Array(MAX_MEDIATORS * MAX_REPLICAS);
const candidateUntil = new Float64Array(MAX_MEDIATORS * MAX_REPLICAS);
const candidateCount = new Int32Array(MAX_MEDIATORS);

/** Commitments of earlier rounds, per Supplier that has any (their room is a timeline, not a number). */
function priorTimelines(suppliers: readonly OpenSupplierOffer[]): Array<CapacityTimeline | undefined> {
  return suppliers.map((s) =>
    s.commitments?.length
      ? new CapacityTimeline(s.offer.capacityMips, s.offer.ramMb, s.offer.end, s.commitments)
      : undefined,
  );
}

/**
 * One greedy pass: a sweep over time (paper §3.3 windows) in which, at each instant where
 * something changes, the Customers waiting for Suppliers are served in `order`.
 */
export function runPass(market: Market, order: Int32Array): Pass {
  return new Sweep(market, order).run();
}

/**
 * The state of one pass. A class rather than closures in runPass: its methods are the same
 * functions in every pass and round, so the engine's optimized code for them is kept (closures
 * made anew per pass would be new call targets each time).
 */
export class Sweep {
  readonly market: Market;
  readonly order: Int32Array;
  readonly n: number;
  readonly timelines: Array<CapacityTimeline | undefined>;
  readonly freeMips: Float64Array;
  readonly freeRam: Float64Array;
  readonly present: Uint8Array;
  /** Each Customer's position in `order`. */
  readonly priority: Int32Array;
  readonly chunkCustomer: number[] = [];
  readonly chunkStart: number[] = [];
  readonly chunkEnd: number[] = [];
  readonly chunkMediator: number[] = [];
  readonly chunkFrom: number[] = [0];
  readonly chunkSuppliers: number[] = [];
  /** Each Customer's chunks as a list in time order (first, last, next). */
  readonly firstChunk: Int32Array;
  readonly lastChunk: Int32Array;
  readonly nextChunk: number[] = [];
  /** The segment each Customer is in (index into market.segStart/segEnd). */
  readonly segment: Int32Array;
  /** market.customerRow with this pass's segment ends and flags. */
  readonly row: Float64Array;
  readonly ends = new EndHeap();
  /** Suppliers that got room back at this instant (each once). */
  readonly freed: Uint8Array;
  readonly freedList: number[] = [];
  // Per Mediator, what Suppliers that gained room at this instant (arriving, chunks ending) offer:
  // the lowest rank among them, the most MIPS and the most MB one of them has free. A Customer that
  // found no group before tries again only if one of them might join it.
  readonly gained: Int32Array;
  readonly gainedMips: Float64Array;
  readonly gainedRam: Float64Array;
  readonly touched: number[] = [];
  // The index shows each present Supplier with at least the room it has (exactly after `reveal`):
  // taking room does not update it (a search that meets a Supplier showing more room than it has
  // reveals it and goes on), and giving room back updates it only where it shows less.
  readonly shownMips: Float64Array;
  readonly shownRam: Float64Array;
  /** Waiting Customers as their priorities, ascending; those starting to wait at this instant; the list the next merge writes into. */
  waiting: number[] = [];
  spare: number[] = [];
  readonly incoming: number[] = [];
  scratch = new Int32Array(64);

  constructor(market: Market, order: Int32Array) {
    const n = market.table.count;
    const m = market.customers.length;
    this.market = market;
    this.order = order;
    this.n = n;
    this.timelines = priorTimelines(market.suppliers);
    this.freeMips = Float64Array.from(market.table.capacityMips);
    this.freeRam = Float64Array.from(market.table.ramMb);
    this.present = new Uint8Array(n);
    this.priority = new Int32Array(m);
    for (let p = 0; p < order.length; p++) this.priority[order[p]!] = p;
    this.firstChunk = new Int32Array(m).fill(-1);
    this.lastChunk = new Int32Array(m).fill(-1);
    this.segment = new Int32Array(m);
    this.row = market.customerRow.slice();
    this.freed = new Uint8Array(n);
    const mediatorCount = market.mediatorAddresses.length;
    this.gained = new Int32Array(mediatorCount).fill(n);
    this.gainedMips = new Float64Array(mediatorCount);
    this.gainedRam = new Float64Array(mediatorCount);
    this.shownMips = new Float64Array(n);
    this.shownRam = new Float64Array(n);
    market.live.clear();
  }

  gain(i: number): void {
    const { supplierMediatorFrom, supplierMediatorList } = this.market;
    const { gained, gainedMips, gainedRam, freeMips, freeRam } = this;
    for (let j = supplierMediatorFrom[i]!, last = supplierMediatorFrom[i + 1]!; j < last; j++) {
      const g = supplierMediatorList[j]!;
      if (gained[g] === this.n) {
        this.touched.push(g);
        gainedMips[g] = -1;
        gainedRam[g] = -1;
      }
      if (i < gained[g]!) gained[g] = i;
      if (freeMips[i]! > gainedMips[g]!) gainedMips[g] = freeMips[i]!;
      if (freeRam[i]! > gainedRam[g]!) gainedRam[g] = freeRam[i]!;
    }
  }

  reveal(i: number): void {
    this.shownMips[i] = this.freeMips[i]!;
    this.shownRam[i] = this.freeRam[i]!;
    this.market.live.set(i, this.freeMips[i]!, this.freeRam[i]!, this.market.table.end[i]!);
  }

  show(i: number): void {
    if (this.present[i] && (this.freeMips[i]! > this.shownMips[i]! || this.freeRam[i]! > this.shownRam[i]!))
      this.reveal(i);
  }

  /** Tries to start a chunk for Customer k at t; true when it did. */
  attempt(k: number, t: number): boolean {
    const { market, row, freeMips, freeRam, timelines, n } = this;
    const { table, live, mediatorList, mediatorBelow, maxScan } = market;
    const b = k * ROW;
    const dMin = row[b + ROW_MIN_SERVICE]!;
    const segEnd = row[b + ROW_SEGMENT_END]!;
    const mips = row[b + ROW_MIPS]!;
    const ramMb = row[b + ROW_RAM]!;
    const firstMediator = row[b + ROW_MEDIATORS]!;
    const mediatorCount = row[b + ROW_MEDIATORS_END]! - firstMediator;
    const account = market.customerAccount[k]!;
    const replicas = market.customerReplicas[k]!;
    const minReplicas = market.customerMinReplicas[k]!;
    const stay = t + dMin;
    const shortOf = market.shortOf[k];
    let winner = -1;
    let winnerScore = -Infinity;
    let winnerCount = 0;
    let winnerDearest = n;
    for (let j = 0; j < mediatorCount; j++) {
      const g = mediatorList[firstMediator + j]!;
      const base = j * MAX_REPLICAS;
      let count = 0;
      const until = mediatorBelow[firstMediator + j]!;
      let p = 0;
      for (let examined = 0; count < replicas && examined < maxScan; examined++) {
        p = live.first(g, p, until, mips, ramMb, stay);
        if (p < 0) break;
        const i = live.rankAt(g, p++);
        // A full group was found under an earlier Mediator: this one can only win with a full
        // group of cheaper Suppliers, and the rest here are as dear as this one or dearer.
        if (winnerCount === replicas && i >= winnerDearest) break;
        if (freeMips[i]! < mips || freeRam[i]! < ramMb) {
          this.reveal(i);
          continue;
        }
        const other = table.account[i]!;
        if (other === account || shortOf?.[i]) continue;
        let duplicate = false;
        for (let q = 0; q < count; q++)
          if (table.account[candidateRank[base + q]!] === other) duplicate = true;
        if (duplicate) continue;
        let room = table.end[i]!;
        const timeline = timelines[i];
        if (timeline) {
          room = timeline.fitUntil(t, mips, ramMb, segEnd);
          if (room < stay) continue;
        }
        candidateRank[base + count] = i;
        candidateUntil[base + count] = room;
        count++;
      }
      candidateCount[j] = count;
      // The most replicas win, then the cheapest dearest Supplier (then the Customer's Mediator order).
      if (count >= minReplicas && count > 0) {
        const score = count * (n + 1) - candidateRank[base + count - 1]!;
        if (score > winnerScore) {
          winnerScore = score;
          winner = j;
          winnerCount = count;
          winnerDearest = candidateRank[base + count - 1]!;
        }
      }
    }
    if (winner < 0) return false;

    const base = winner * MAX_REPLICAS;
    const count = candidateCount[winner]!;
    let hardEnd = Math.min(segEnd, t + market.customerMaxChunk[k]!);
    for (let q = 0; q < count; q++) hardEnd = Math.min(hardEnd, candidateUntil[base + q]!);
    // The chunk runs until the first instant after switchSeconds (at least δ_min) where something
    // changes; then its Customer is matched again (and keeps the chunk going if the same Suppliers win).
    let end = Math.min(hardEnd, market.nextEventFrom(t + Math.max(dMin, market.switchSeconds)));
    if (end < segEnd && segEnd - end < dMin) {
      // Never leave a remainder shorter than δ_min.
      if (hardEnd >= segEnd) end = segEnd;
      else if (segEnd - dMin - t >= dMin) end = segEnd - dMin;
    }

    const mediator = mediatorList[firstMediator + winner]!;
    for (let q = 0; q < count; q++) {
      const i = candidateRank[base + q]!;
      freeMips[i]! -= mips;
      freeRam[i]! -= ramMb;
      timelines[i]?.add({ start: t, end, mips, ramMb });
    }
    // The same Suppliers and Mediator as the chunk that just ended: it goes on (within maxChunk and
    // the open window).
    const { chunkStart, chunkEnd, chunkFrom, chunkSuppliers } = this;
    const last = this.lastChunk[k]!;
    if (
      last >= 0 &&
      chunkEnd[last] === t &&
      chunkStart[last]! >= market.segStart[this.segment[k]!]! &&
      this.chunkMediator[last] === mediator &&
      chunkFrom[last + 1]! - chunkFrom[last]! === count &&
      end - chunkStart[last]! <= market.customerMaxChunk[k]!
    ) {
      let same = true;
      for (let q = 0; q < count && same; q++)
        same = chunkSuppliers[chunkFrom[last]! + q] === candidateRank[base + q];
      if (same) {
        chunkEnd[last] = end;
        this.ends.push(end, last);
        return true;
      }
    }
    const chunk = this.chunkCustomer.length;
    for (let q = 0; q < count; q++) chunkSuppliers.push(candidateRank[base + q]!);
    this.chunkCustomer.push(k);
    chunkStart.push(t);
    chunkEnd.push(end);
    this.chunkMediator.push(mediator);
    chunkFrom.push(chunkSuppliers.length);
    this.nextChunk.push(-1);
    if (last >= 0) this.nextChunk[last] = chunk;
    else this.firstChunk[k] = chunk;
    this.lastChunk[k] = chunk;
    this.ends.push(end, chunk);
    return true;
  }

  /** `xs` sorted ascending, in a scratch array (the native sort of a typed array). */
  sortInts(xs: readonly number[]): Int32Array {
    if (this.scratch.length < xs.length) this.scratch = new Int32Array(2 * xs.length);
    const view = this.scratch.subarray(0, xs.length);
    for (let x = 0; x < xs.length; x++) view[x] = xs[x]!;
    return view.sort();
  }

  /** The sweep, then each Customer's outcome and the pass's welfare. */
  run(): Pass {
    const { market, row, order, priority, ends, freeMips, freeRam, present, gained, gainedMips, gainedRam } =
      this;
    const { table, live, mediatorList } = market;
    const { chunkCustomer, chunkEnd, chunkFrom, chunkSuppliers, freed, freedList, incoming, touched } = this;
    const n = this.n;
    const { time: eventTime, kind: eventKind, id: eventId } = market.events;
    let e = 0;
    while (e < eventTime.length || ends.size > 0) {
      const t = Math.min(e < eventTime.length ? eventTime[e]! : Infinity, ends.top);
      for (const g of touched) gained[g] = n;
      touched.length = 0;
      // 1. Chunks ending now give their room back; their Customers wait again if their window goes on.
      while (ends.top === t) {
        const chunk = ends.topChunk();
        ends.pop();
        if (chunkEnd[chunk] !== t) continue; // it went on (merged)
        const k = chunkCustomer[chunk]!;
        const mips = row[k * ROW + ROW_MIPS]!;
        const ramMb = row[k * ROW + ROW_RAM]!;
        for (let q = chunkFrom[chunk]!; q < chunkFrom[chunk + 1]!; q++) {
          const i = chunkSuppliers[q]!;
          freeMips[i]! += mips;
          freeRam[i]! += ramMb;
          // A Supplier leaving now is of no more use; the others are shown once all chunks ended.
          if (table.end[i]! > t && !freed[i]) {
            freed[i] = 1;
            freedList.push(i);
          }
        }
        if (row[k * ROW + ROW_SEGMENT_END]! - t >= row[k * ROW + ROW_MIN_SERVICE]!)
          incoming.push(priority[k]!);
      }
      for (const i of freedList) {
        freed[i] = 0;
        this.show(i);
        this.gain(i);
      }
      freedList.length = 0;
      // 2. Suppliers leave and arrive, earlier rounds' commitments end, Customer windows open.
      for (; e < eventTime.length && eventTime[e] === t; e++) {
        const id = eventId[e]!;
        switch (eventKind[e]) {
          case SUPPLIER_LEAVES:
            present[id] = 0;
            live.set(id, -1, -1, -Infinity);
            break;
          case SUPPLIER_ARRIVES:
            present[id] = 1;
            this.reveal(id);
            this.gain(id);
            break;
          case PRIOR_ENDS:
            this.gain(id);
            break;
          default:
            this.segment[id] = market.segmentAt[e]!;
            row[id * ROW + ROW_SEGMENT_END] = market.segEnd[this.segment[id]!]!;
            if (row[id * ROW + ROW_FLAGS]! & WAITING) row[id * ROW + ROW_FLAGS] = WAITING | FRESH;
            else incoming.push(priority[id]!);
        }
      }
      // 3. Waiting Customers, by priority: new ones try; the others only when a Supplier they could
      // use (under one of their Mediators, asking at most their bid) gained room.
      if (incoming.length > 0) {
        const sorted = this.sortInts(incoming);
        for (const p of sorted) row[order[p]! * ROW + ROW_FLAGS] = WAITING | FRESH;
        const waiting = this.waiting;
        const merged = this.spare;
        merged.length = 0;
        let a = 0;
        let b = 0;
        while (a < waiting.length || b < sorted.length) {
          if (b >= sorted.length || (a < waiting.length && waiting[a]! < sorted[b]!))
            merged.push(waiting[a++]!);
          else merged.push(sorted[b++]!);
        }
        this.spare = waiting;
        this.waiting = merged;
        incoming.length = 0;
      }
      const waiting = this.waiting;
      let kept = 0;
      for (let w = 0; w < waiting.length; w++) {
        const k = order[waiting[w]!]!;
        const b = k * ROW;
        if (row[b + ROW_SEGMENT_END]! - t < row[b + ROW_MIN_SERVICE]!) {
          row[b + ROW_FLAGS] = 0;
          continue;
        }
        let retry = row[b + ROW_FLAGS] === (WAITING | FRESH);
        if (!retry) {
          const limit = row[b + ROW_LIMIT]!;
          const mips = row[b + ROW_MIPS]!;
          const ramMb = row[b + ROW_RAM]!;
          const last = row[b + ROW_MEDIATORS_END]!;
          for (let j = row[b + ROW_MEDIATORS]!; j < last && !retry; j++) {
            const g = mediatorList[j]!;
            retry = gained[g]! < limit && gainedMips[g]! >= mips && gainedRam[g]! >= ramMb;
          }
        }
        row[b + ROW_FLAGS] = WAITING;
        if (retry && this.attempt(k, t)) {
          row[b + ROW_FLAGS] = 0;
          continue;
        }
        waiting[kept++] = waiting[w]!;
      }
      waiting.length = kept;
    }
    return finishPass(this);
  }
}
