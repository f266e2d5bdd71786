// The outcome of a round (docs/auction.md, step 5): each Customer's pieces (served, left open for
// later rounds, closed), the welfare of a pass, and the kept pass's allocations, priced.
import { inputsPerReplica, type PriceRule, testCountFor } from "../../pricing.ts";
import {
  type Address,
  type Allocation,
  type Bytes32,
  SCHEMA_VERSION,
  type VoidAllocation,
} from "../../schemas.ts";
import { halfwayPrice } from "../price-rules.ts";
import type { AuctionResult, CustomerOutcome, OpenCustomerOffer, PlannedAllocation } from "../types.ts";
import { type Market, ROW, ROW_MIPS, voidOf } from "./market.ts";
import type { Sweep } from "./sweep.ts";

/** A pass's chunks, as numbers; allocations are built from the kept pass only. */
export interface Pass {
  readonly welfare: bigint;
  readonly chunkCustomer: number[];
  readonly chunkStart: number[];
  readonly chunkEnd: number[];
  readonly chunkMediator: number[];
  /** Suppliers of chunk k: chunkSuppliers[chunkFrom[k] .. chunkFrom[k + 1]). */
  readonly chunkFrom: number[];
  readonly chunkSuppliers: number[];
  readonly chunkWelfare: bigint[];
  readonly outcomes: CustomerOutcome[];
  readonly customerVoids: VoidAllocation[];
}

/** Each Customer's pieces (its chunks, and the rest of its segments unserved) and the welfare. */
export function finishPass(sweep: Sweep): Pass {
  const { market, row, chunkCustomer, chunkStart, chunkEnd, chunkFrom, chunkSuppliers, nextChunk } = sweep;
  const { params } = market.input;
  const outcomes: CustomerOutcome[] = [];
  const customerVoids: VoidAllocation[] = [];
  market.customers.forEach((c, k) => {
    const o = c.offer;
    if (market.customerExpired[k]) {
      if (isWholeWindow(c)) customerVoids.push(voidOf(params.allocator, c.id, o.account));
      outcomes.push({ customerOfferId: c.id, pieces: [], stillOpen: [], closed: true });
      return;
    }
    const pieces: Array<{ start: number; end: number; allocation?: number }> = [];
    const unserved = (start: number, end: number) => {
      if (end <= start) return;
      const last = pieces[pieces.length - 1];
      if (last && last.allocation === undefined && last.end === start) last.end = end;
      else pieces.push({ start, end });
    };
    let q = sweep.firstChunk[k]!;
    for (let s = market.segFrom[k]!; s < market.segFrom[k + 1]!; s++) {
      let t = market.segStart[s]!;
      const segEnd = market.segEnd[s]!;
      for (; q >= 0 && chunkStart[q]! < segEnd; q = nextChunk[q]!) {
        unserved(t, chunkStart[q]!);
        pieces.push({ start: chunkStart[q]!, end: chunkEnd[q]!, allocation: q });
        t = chunkEnd[q]!;
      }
      unserved(t, segEnd);
    }
    // What is left can still be served by a later round if it is long enough (new Suppliers may come).
    const stillOpen = pieces
      .filter((p) => p.allocation === undefined && p.end - p.start >= o.minServiceSeconds)
      .map(({ start, end }) => ({ start, end }));
    outcomes.push({ customerOfferId: c.id, pieces, stillOpen, closed: stillOpen.length === 0 });
  });

  let welfare = 0n;
  const chunkWelfare: bigint[] = [];
  for (let q = 0; q < chunkCustomer.length; q++) {
    const k = chunkCustomer[q]!;
    const bid = market.customerBid[k]!;
    let gap = 0n;
    for (let p = chunkFrom[q]!; p < chunkFrom[q + 1]!; p++) gap += bid - market.asks[chunkSuppliers[p]!]!;
    // I_c·λ·Δ: exact as a double while it stays below 2^53.
    const duration = chunkEnd[q]! - chunkStart[q]!;
    const work = row[k * ROW + ROW_MIPS]! * duration;
    const w =
      gap *
      (Number.isSafeInteger(work)
        ? BigInt(work)
        : BigInt(market.customers[k]!.offer.miPerInput) *
          inputsPerReplica(market.customers[k]!.offer.inputsPerSecond, duration));
    chunkWelfare.push(w);
    welfare += w;
  }
  return {
    welfare,
    chunkCustomer,
    chunkStart,
    chunkEnd,
    chunkMediator: sweep.chunkMediator,
    chunkFrom,
    chunkSuppliers,
    chunkWelfare,
    outcomes,
    customerVoids,
  };
}

function isWholeWindow(c: OpenCustomerOffer): boolean {
  const w = c.openWindows;
  return w === undefined || (w.length === 1 && w[0]!.start === c.offer.start && w[0]!.end === c.offer.end);
}

/** The kept pass's allocations, priced, in the order they were made. */
export function build(market: Market, pass: Pass): AuctionResult {
  const { params } = market.input;
  const priceRule: PriceRule = params.priceRule ?? halfwayPrice;
  let nonce = params.nonceBase ?? 0n;
  const allocations: PlannedAllocation[] = [];
  for (let k = 0; k < pass.chunkCustomer.length; k++) {
    const c = market.customers[pass.chunkCustomer[k]!]!;
    const o = c.offer;
    const start = pass.chunkStart[k]!;
    const end = pass.chunkEnd[k]!;
    // Arrays of their exact length (pushing leaves room for more, and there are many allocations).
    const from = pass.chunkFrom[k]!;
    const count = pass.chunkFrom[k + 1]! - from;
    const accounts = new Array<Address>(count);
    const offers = new Array<Bytes32>(count);
    const asks = new Array<bigint>(count);
    for (let q = 0; q < count; q++) {
      const i = pass.chunkSuppliers[from + q]!;
      const s = market.suppliers[i]!;
      accounts[q] = s.offer.account;
      offers[q] = s.id;
      asks[q] = market.asks[i]!;
    }
    const inputs = inputsPerReplica(o.inputsPerSecond, end - start);
    const allocation: Allocation = {
      schemaVersion: SCHEMA_VERSION,
      allocator: params.allocator,
      customer: o.account,
      suppliers: accounts,
      mediator: market.mediatorAddresses[pass.chunkMediator[k]!]!,
      customerOffer: c.id,
      supplierOffers: offers,
      serviceHash: o.serviceHash,
      start,
      end,
      pricePerMi: priceRule.price([o.maxPricePerMi], asks),
      miPerInput: o.miPerInput,
      inputsPerSecond: o.inputsPerSecond,
      testCount: testCountFor(inputs, params.penaltyRate),
      minReplicas: Math.min(o.minReplicas, accounts.length),
      nonce: nonce++,
    };
    allocations.push({
      allocation,
      customerOfferId: c.id,
      supplierOfferIds: allocation.supplierOffers,
      welfare: pass.chunkWelfare[k]!,
      commitment: { start, end, mips: market.customerMips[pass.chunkCustomer[k]!]!, ramMb: o.ramMb },
    });
  }
  return {
    allocations,
    voids: [...market.supplierVoids, ...pass.customerVoids],
    customers: pass.outcomes,
    welfare: pass.welfare,
  };
}
