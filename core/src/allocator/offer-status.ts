// Offer status for its sender (issue 17): what became of an offer, and for a Customer offer the
// auction left (partly) unserved, why. The sweep (auction/) does not stop to explain itself; the
// reason is found afterwards by asking of the round's input, in order, the questions the sweep
// asks of a Supplier (Mediator, price, room, time, reputation, distinct accounts): the first one
// that no Supplier passes is the reason; when some pass them all, others took them first.
import { DEFAULT_DELAYS, requiredMips } from "../feasibility.ts";
import { requirementShortfall } from "../reputation.ts";
import type { Address, Bytes32 } from "../schemas.ts";
import type { Unfunded } from "./admission.ts";
import type { AuctionInput, AuctionResult, OpenCustomerOffer } from "./types.ts";

export const OfferState = {
  /** Refused at the front door (schema, signature, stale, bounds, not admitted, unfunded, …). */
  Rejected: "rejected",
  /** Waiting for a match; `reason` says why the last round left it. */
  Open: "open",
  /** Served over its whole window. */
  Matched: "matched",
  /** Some of its window was allocated; the rest is open or lapsed. */
  PartlyMatched: "partly-matched",
  /** Its window passed without any allocation. */
  ExpiredUnmatched: "expired-unmatched",
} as const;
export type OfferState = (typeof OfferState)[keyof typeof OfferState];

/** The status a participant reads about one of its offers. */
export interface OfferStatus {
  readonly offerId: Bytes32;
  readonly account: Address;
  readonly kind: "customer" | "supplier" | "mediator";
  readonly state: OfferState;
  /** Why it was rejected, or why the auction left it (partly) unmatched. */
  readonly reason?: string;
  /** The allocations it is part of. */
  readonly allocations: readonly Bytes32[];
  readonly updatedAtMs: number;
}

/**
 * Why the auction left Customer offer `c` (partly) unserved, asked of the round's input;
 * `shortMediators` are those the round left out for a bond they could not cover (issue 16).
 */
export function whyUnmatched(
  input: AuctionInput,
  c: OpenCustomerOffer,
  shortMediators: readonly Unfunded[] = [],
): string {
  const o = c.offer;
  const delays = input.params.delays ?? DEFAULT_DELAYS;
  const earliest = input.params.nowSeconds + delays.allocSeconds + delays.setupSeconds;
  const windows = (c.openWindows ?? [{ start: o.start, end: o.end }])
    .map((w) => ({ start: Math.max(w.start, earliest), end: w.end }))
    .filter((w) => w.end > w.start);
  const longest = Math.max(0, ...windows.map((w) => w.end - w.start));
  if (longest < o.minServiceSeconds)
    return `window shorter than δ_min: ${longest} s left after the earliest start, δ_min is ${o.minServiceSeconds} s`;

  const trusted = new Set(o.mediators.filter((m) => m !== o.account));
  let left = input.suppliers.filter(
    (s) =>
      s.offer.account !== o.account && s.offer.mediators.some((m) => trusted.has(m) && m !== s.offer.account),
  );
  if (left.length === 0) return "no Supplier under a Mediator it trusts";
  const short = new Map(shortMediators.map((u) => [u.account, u]));
  const bonded = left.filter((s) =>
    s.offer.mediators.some((m) => trusted.has(m) && m !== s.offer.account && !short.has(m)),
  );
  if (bonded.length === 0) {
    const named = [...trusted].filter((m) => short.has(m)).map((m) => `${m} has ${short.get(m)!.free} free`);
    return `no Mediator it trusts can cover its bond r·(P + D) in the market: ${named.join(", ")}`;
  }
  left = bonded;

  const mips = requiredMips(o);
  const roomy = left.filter((s) => s.offer.capacityMips >= mips && s.offer.ramMb >= o.ramMb);
  if (roomy.length === 0)
    return `not enough CPU or memory: a replica needs ${mips} MIPS and ${o.ramMb} MB; the Suppliers under its Mediators offer at most ${Math.max(...left.map((s) => s.offer.capacityMips))} MIPS and ${Math.max(...left.map((s) => s.offer.ramMb))} MB`;
  left = roomy;

  const overlaps = left.filter((s) =>
    windows.some(
      (w) => Math.min(w.end, s.offer.end) - Math.max(w.start, s.offer.start, earliest) >= o.minServiceSeconds,
    ),
  );
  if (overlaps.length === 0)
    return `no Supplier that fits is available for δ_min (${o.minServiceSeconds} s) within its window`;
  left = overlaps;

  const fitting = left.filter((s) => s.offer.minPricePerMi <= o.maxPricePerMi);
  if (fitting.length === 0) {
    const cheapest = left.map((s) => s.offer.minPricePerMi).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))[0];
    return `bid ${o.maxPricePerMi} per MI below every ask that fits (the cheapest is ${cheapest})`;
  }
  left = fitting;

  if (c.requires) {
    const req = c.requires;
    const shortfalls = left.map((s) =>
      requirementShortfall(
        input.params.reputation?.reputationOf(s.offer.account.toLowerCase() as Address),
        req,
      ),
    );
    const passing = left.filter((_s, i) => shortfalls[i] === undefined);
    if (passing.length === 0)
      return `reputation: every Supplier that fits falls short of the offer's requirement (${shortfalls[0]})`;
    if (new Set(passing.map((s) => s.offer.account)).size < o.minReplicas)
      return `reputation: only ${new Set(passing.map((s) => s.offer.account)).size} Suppliers that fit meet the offer's requirement; it needs ${o.minReplicas}`;
    left = passing;
  }

  const accounts = new Set(left.map((s) => s.offer.account)).size;
  if (accounts < o.minReplicas)
    return `only ${accounts} Suppliers fit (Mediator, price, CPU and memory, time); it needs r_min = ${o.minReplicas}`;
  return `the ${accounts} Suppliers that fit were taken by other allocations (higher bids go first) — it waits for room`;
}

/**
 * The state and reason of each Customer offer of a round: matched, partly matched (with why the
 * rest waits), open (why), or expired unmatched. Customer offers only: a Supplier offer's state is
 * the allocations it joined.
 */
export function roundStatuses(
  input: AuctionInput,
  result: AuctionResult,
  allocationIds: ReadonlyMap<Bytes32, readonly Bytes32[]>,
): Map<Bytes32, { state: OfferState; reason?: string }> {
  const byId = new Map(input.customers.map((c) => [c.id, c]));
  const out = new Map<Bytes32, { state: OfferState; reason?: string }>();
  for (const outcome of result.customers) {
    const c = byId.get(outcome.customerOfferId);
    if (!c) continue;
    const served =
      (allocationIds.get(c.id)?.length ?? 0) > 0 || (c.openWindows !== undefined && windowTaken(c));
    const unserved = outcome.pieces.some((p) => p.allocation === undefined);
    if (outcome.closed && !served && outcome.pieces.every((p) => p.allocation === undefined)) {
      out.set(c.id, {
        state: OfferState.ExpiredUnmatched,
        reason: outcome.pieces.length
          ? whyUnmatched(input, c, result.shortMediators)
          : "its window passed without a match",
      });
      continue;
    }
    if (!unserved) {
      out.set(c.id, { state: served ? OfferState.Matched : OfferState.Open });
      continue;
    }
    out.set(c.id, {
      state: served ? OfferState.PartlyMatched : OfferState.Open,
      reason: whyUnmatched(input, c, result.shortMediators),
    });
  }
  return out;
}

/** An earlier round allocated part of the window already (the open windows are less than it). */
function windowTaken(c: OpenCustomerOffer): boolean {
  const open = (c.openWindows ?? []).reduce((n, w) => n + (w.end - w.start), 0);
  return open < c.offer.end - c.offer.start;
}

/** Where offer statuses are kept (the offers registry) for their senders and the console. */
export interface OfferStatusRegistry {
  /**
   * Records each status on its offer (allocations accumulate; a status left unchanged is not
   * rewritten). Resolves to the statuses that changed (to publish them).
   */
  recordStatuses(statuses: readonly OfferStatus[]): Promise<OfferStatus[]>;
  /** The statuses of `account`'s offers, or of every offer. */
  statuses(account?: Address): Promise<OfferStatus[]>;
}
