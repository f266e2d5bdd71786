// The market's front door, as pure decisions the Allocator's round applies before and after its
// auction (issue 16): market-level bounds on what an offer may ask for, and skin in the game — an
// allocation is made only when every party that must lock funds on `open` holds them free in the
// market contract. The round reads the balances (a port) once; these functions only decide.
import type {
  Address,
  Allocation,
  Bytes32,
  CustomerOffer,
  MediatorOffer,
  SupplierOffer,
} from "../schemas.ts";
import type { PlannedAllocation } from "./types.ts";

/** Market-level limits on offers (configuration; an offer beyond one is refused with the reason). */
export interface MarketBounds {
  /** Highest π_xmax a Customer may bid and highest π_xmin a Supplier may ask, token units per MI. */
  readonly maxPricePerMi: bigint;
  /** Most replicas a Customer offer may ask for (the contract's limit is 16). */
  readonly maxReplicas: number;
  /** Longest window [start, end) of any offer, seconds. */
  readonly maxWindowSeconds: number;
  /** Most open offers one account may have (each is read by every round until it closes). */
  readonly maxOpenOffersPerAccount: number;
}

export const DEFAULT_MARKET_BOUNDS: MarketBounds = {
  // 10^24 per MI is far above any sane price (the local market trades at ~10^9) and keeps every
  // lock a uint256 by a wide margin.
  maxPricePerMi: 10n ** 24n,
  maxReplicas: 8,
  // A week: longer commitments are offered again later, when the party knows more.
  maxWindowSeconds: 7 * 86_400,
  maxOpenOffersPerAccount: 64,
};

/** Why `offer` exceeds the market's bounds, or undefined when it is within them. */
export function boundsViolation(
  offer: CustomerOffer | SupplierOffer | MediatorOffer,
  bounds: MarketBounds = DEFAULT_MARKET_BOUNDS,
): string | undefined {
  if (offer.kind === "mediator") return undefined;
  const window = offer.end - offer.start;
  if (window > bounds.maxWindowSeconds)
    return `window of ${window} s exceeds the market's ${bounds.maxWindowSeconds} s`;
  if (offer.kind === "customer") {
    if (offer.maxPricePerMi > bounds.maxPricePerMi)
      return `maxPricePerMi ${offer.maxPricePerMi} exceeds the market's ${bounds.maxPricePerMi}`;
    if (offer.replicas > bounds.maxReplicas)
      return `${offer.replicas} replicas exceed the market's ${bounds.maxReplicas}`;
  } else if (offer.minPricePerMi > bounds.maxPricePerMi) {
    return `minPricePerMi ${offer.minPricePerMi} exceeds the market's ${bounds.maxPricePerMi}`;
  }
  return undefined;
}

/** The market contract's parameters that decide what `open` locks (read from the contract). */
export interface MarketFees {
  /** ρ: deposits are ρ·π_s. */
  readonly penaltyRate: bigint;
  /** F: paid to the Allocator by the Customer and by each running Supplier. */
  readonly allocatorFee: bigint;
  /** M: paid by the Customer to the Mediator. */
  readonly mediatorFee: bigint;
}

/**
 * What `open` locks from each party of `a` (SurplusMarket `_addSignatures`): the Customer
 * r·P + D + M + F, each Supplier D + F, the Mediator its bond r·(P + D); P = λΔ·π_s, D = ρ·π_s.
 */
export function locksOf(a: Allocation, fees: MarketFees): Map<Address, bigint> {
  const inputPrice = BigInt(a.miPerInput) * a.pricePerMi;
  const payment = BigInt(a.inputsPerSecond) * BigInt(a.end - a.start) * inputPrice;
  const deposit = fees.penaltyRate * inputPrice;
  const locks = new Map<Address, bigint>();
  locks.set(
    a.customer,
    BigInt(a.suppliers.length) * payment + deposit + fees.mediatorFee + fees.allocatorFee,
  );
  for (const s of a.suppliers) locks.set(s, (locks.get(s) ?? 0n) + deposit + fees.allocatorFee);
  // The Mediator's bond (contracts/README.md, "silent Mediator"): r·(P + D), returned unless it
  // lets a mediation time out.
  locks.set(a.mediator, (locks.get(a.mediator) ?? 0n) + BigInt(a.suppliers.length) * (payment + deposit));
  return locks;
}

/**
 * The least any allocation of `offer` locks from its account, whatever price the auction sets:
 * what an account needs free before its offer is worth matching at all.
 */
export function leastLock(offer: CustomerOffer | SupplierOffer | MediatorOffer, fees: MarketFees): bigint {
  if (offer.kind === "customer") return fees.mediatorFee + fees.allocatorFee;
  if (offer.kind === "supplier") return fees.allocatorFee;
  return 0n;
}

/** An account that cannot fund an allocation the auction planned. */
export interface Unfunded {
  readonly account: Address;
  /** Its offer in the allocation: the Customer offer, or the Supplier offer it is in with. */
  readonly offerId: Bytes32;
  readonly needs: bigint;
  readonly free: bigint;
  readonly reason: string;
}

/**
 * Walks the planned allocations in the auction's order, each party spending from its free
 * balance what the allocation's `open` would lock; returns the accounts that run short (once per
 * account, at the first allocation they cannot fund). Accounts missing from `free` hold nothing.
 */
export function unfundedParties(
  planned: readonly PlannedAllocation[],
  free: ReadonlyMap<Address, bigint>,
  fees: MarketFees,
): Unfunded[] {
  return shortfalls(
    planned,
    free,
    fees,
    (a, locks) => {
      // The Mediator's bond is the auction's to check (params.mediatorFunds, shortMediators): it
      // has no offer in the round to refuse.
      locks.delete(a.mediator);
      return { checked: locks, spends: locks };
    },
    (p, account, lock, has) => {
      const a = p.allocation;
      const index = a.suppliers.indexOf(account);
      return {
        account,
        offerId: index >= 0 ? p.supplierOfferIds[index]! : p.customerOfferId,
        needs: lock,
        free: has,
        reason: `insufficient free balance in the market: allocation ${a.start}–${a.end} would lock ${lock}, ${has} left free`,
      };
    },
  );
}

/**
 * The Mediators that cannot bond the allocations the auction named them in (issue 16): walks the
 * planned allocations in order, every party spending what `open` would lock (so a Mediator that
 * is also a Customer or Supplier elsewhere pays for both), and returns each Mediator at the first
 * bond r·(P + D) its free balance no longer covers. Accounts missing from `free` hold nothing.
 * `offerId` is the Customer offer of that allocation (the Mediator has no offer of its own).
 */
export function shortMediators(
  planned: readonly PlannedAllocation[],
  free: ReadonlyMap<Address, bigint>,
  fees: MarketFees,
): Unfunded[] {
  return shortfalls(
    planned,
    free,
    fees,
    (a, locks) => ({ checked: [[a.mediator, locks.get(a.mediator)!]], spends: locks }),
    (p, account, lock, has) => ({
      account,
      offerId: p.customerOfferId,
      needs: lock,
      free: has,
      reason: `Mediator ${account} cannot cover its bond r·(P + D): allocation ${p.allocation.start}–${p.allocation.end} would lock ${lock}, ${has} left free`,
    }),
  );
}

/**
 * The walk both share: per allocation, the locks `pick` checks must all fit in what is left free,
 * or each short account is recorded (once, at its first shortfall) and the allocation spends
 * nothing; otherwise the locks `pick` spends are taken from what is left.
 */
function shortfalls(
  planned: readonly PlannedAllocation[],
  free: ReadonlyMap<Address, bigint>,
  fees: MarketFees,
  pick: (
    a: Allocation,
    locks: Map<Address, bigint>,
  ) => { checked: Iterable<[Address, bigint]>; spends: Iterable<[Address, bigint]> },
  describe: (p: PlannedAllocation, account: Address, lock: bigint, has: bigint) => Unfunded,
): Unfunded[] {
  const spent = new Map<Address, bigint>();
  const short = new Map<Address, Unfunded>();
  const left = (account: Address) => (free.get(account) ?? 0n) - (spent.get(account) ?? 0n);
  for (const p of planned) {
    const { checked, spends } = pick(p.allocation, locksOf(p.allocation, fees));
    const failing = [...checked].filter(([account, lock]) => left(account) < lock);
    if (failing.length === 0) {
      for (const [account, lock] of spends) spent.set(account, (spent.get(account) ?? 0n) + lock);
      continue;
    }
    for (const [account, lock] of failing)
      if (!short.has(account)) short.set(account, describe(p, account, lock, left(account)));
  }
  return [...short.values()];
}

/**
 * Free balances less what allocations made but not yet opened will lock (the contract locks only
 * at `open`, so without this a party could be allocated in round after round on one balance).
 */
export function unreserved(
  free: ReadonlyMap<Address, bigint>,
  pending: readonly Allocation[],
  fees: MarketFees,
): Map<Address, bigint> {
  const out = new Map(free);
  for (const a of pending)
    for (const [account, lock] of locksOf(a, fees)) {
      const left = out.get(account);
      if (left !== undefined) out.set(account, left > lock ? left - lock : 0n);
    }
  return out;
}
