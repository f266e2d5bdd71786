// The Allocator's front door (issue 16), as the offer round applies it: who takes part in this
// round's auction. A use case beside offer-round.ts; the decisions are core's (admission.ts,
// standing.ts), the balances and the standing are ports.
//  - Backed off: the offers of a party whose pause has not run out are left out (with its reason).
//  - Skin in the game: the free balances in the market contract of every account with an open offer
//    are read once per round; an account that cannot even cover the least any allocation would
//    lock is left out and struck. After the auction, an account that could not fund what its
//    allocations would lock on `open` is struck (its offer refused with the reason, itself backed
//    off) and the auction runs again without it, so the Suppliers it took go to funded Customers
//    in the same round.
import type {
  Address,
  AdmittedKind,
  AuctionResult,
  BackoffPolicy,
  Bytes32,
  MarketBounds,
  MarketFees,
  OfferRefusal,
  Standing,
} from "@surplus/core";
import { isPaused, leastLock, locksOf, mapLimited, strike, unfundedParties, unreserved } from "@surplus/core";
import type {
  AcceptRegistry,
  AdmittedParticipants,
  FreeBalances,
  PendingAllocations,
  StandingRegistry,
  VersionedCustomer,
  VersionedSupplier,
} from "../ports.ts";

export interface FrontDoorDeps {
  readonly balances: FreeBalances;
  readonly standing: StandingRegistry;
  /** Who may post offers; absent: any signer (unit tests of the funds check only). */
  readonly participants?: AdmittedParticipants;
  /** Allocations awaiting `open`, whose locks are reserved; absent: none are. */
  readonly pending?: PendingAllocations;
}

export interface FrontDoorConfig {
  /** @default DEFAULT_MARKET_BOUNDS */
  readonly bounds?: MarketBounds;
  /** The contract's ρ, F, M (read from it); without them there is no funds check. */
  readonly fees?: MarketFees;
  /** @default DEFAULT_BACKOFF */
  readonly backoff?: BackoffPolicy;
  /** Auctions run again at most this many times after striking unfunded parties. @default 3 */
  readonly maxReruns?: number;
}

interface OpenOffers {
  customers: VersionedCustomer[];
  suppliers: VersionedSupplier[];
}

/** One round's front door: what it left out and why. */
export class FrontDoorRound {
  readonly refused: Array<{ offerId: Bytes32; account: Address; reason: string }> = [];
  readonly #deps: FrontDoorDeps;
  readonly #config: FrontDoorConfig;
  readonly #fees: MarketFees;
  readonly #nowMs: number;
  #free = new Map<Address, bigint>();

  constructor(deps: FrontDoorDeps, config: FrontDoorConfig, nowMs: number) {
    if (!config.fees) throw new Error("the front door's funds check needs the market's fees");
    this.#deps = deps;
    this.#config = config;
    this.#fees = config.fees;
    this.#nowMs = nowMs;
  }

  /**
   * The open offers that may take part: not backed off, and whose account holds at least the
   * least lock. `fresh` are the offers recorded this round: their refusal is recorded once, not
   * every round they stay paused.
   */
  /** Free balances after admit(), for the auction's Mediator-bond check. */
  get mediatorFunds(): { readonly free: ReadonlyMap<Address, bigint>; readonly fees: MarketFees } {
    return { free: this.#free, fees: this.#fees };
  }

  async admit(open: OpenOffers, fresh: ReadonlySet<Bytes32>): Promise<OpenOffers> {
    const all = [...open.customers, ...open.suppliers];
    const standings = await this.#deps.standing.standings([...new Set(all.map((o) => o.offer.account))]);
    const accounts = [...new Set(all.map((o) => o.offer.account))].filter(
      (a) => !isPaused(standings.get(a), this.#nowMs),
    );
    const [free, pending] = await Promise.all([
      // The Mediators named by the offers too: the auction checks their bond (mediatorFunds).
      this.#deps.balances.freeBalances([...new Set([...accounts, ...all.flatMap((o) => o.offer.mediators)])]),
      this.#deps.pending?.awaitingOpen() ?? [],
    ]);
    this.#free = unreserved(free, pending, this.#fees);
    const out = new Set<Bytes32>();
    const struck = new Map<Address, string>();
    for (const o of all) {
      const account = o.offer.account;
      const standing = standings.get(account);
      if (isPaused(standing, this.#nowMs)) {
        out.add(o.offerId);
        const reason = pausedReason(standing!);
        this.refused.push({ offerId: o.offerId, account, reason });
        if (fresh.has(o.offerId))
          await this.#refuse({ offerId: o.offerId, account, atMs: this.#nowMs, reason });
        continue;
      }
      const least = leastLock(o.offer, this.#fees);
      const free = this.#free.get(account) ?? 0n;
      if (free < least) {
        out.add(o.offerId);
        const reason = `insufficient free balance in the market: any allocation locks at least ${least}, ${free} free`;
        this.refused.push({ offerId: o.offerId, account, reason });
        await this.#refuse({ offerId: o.offerId, account, atMs: this.#nowMs, reason });
        if (!struck.has(account)) struck.set(account, reason);
      }
    }
    for (const [account, reason] of struck) await this.#strike(account, reason);
    return {
      customers: open.customers.filter((c) => !out.has(c.offerId)),
      suppliers: open.suppliers.filter((s) => !out.has(s.offerId)),
    };
  }

  /**
   * Runs `auction` over `admitted`; while some party cannot fund its allocations, strikes it and
   * runs again without it (at most `maxReruns` times). Returns the last result and the parties
   * that still could not fund theirs (their allocations must not be committed).
   */
  async fundedAuction(
    admitted: OpenOffers,
    auction: (customers: VersionedCustomer[], suppliers: VersionedSupplier[]) => AuctionResult,
  ): Promise<{ result: AuctionResult; unfunded: ReadonlySet<Address> }> {
    let { customers, suppliers } = admitted;
    const maxReruns = this.#config.maxReruns ?? 3;
    for (let run = 0; ; run++) {
      const result = auction(customers, suppliers);
      const short = unfundedParties(result.allocations, this.#free, this.#fees);
      if (short.length === 0) return { result, unfunded: new Set() };
      const accounts = new Set(short.map((u) => u.account));
      for (const u of short) {
        this.refused.push({ offerId: u.offerId, account: u.account, reason: u.reason });
        await this.#refuse({ offerId: u.offerId, account: u.account, atMs: this.#nowMs, reason: u.reason });
        await this.#strike(u.account, u.reason);
      }
      if (run >= maxReruns) return { result, unfunded: accounts };
      customers = customers.filter((c) => !accounts.has(c.offer.account));
      suppliers = suppliers.filter((s) => !accounts.has(s.offer.account));
    }
  }

  #refuse(refusal: OfferRefusal): Promise<void> {
    return this.#deps.standing.refuseOffer(refusal);
  }

  async #strike(account: Address, reason: string): Promise<void> {
    await this.#deps.standing.recordStrike(account, this.#nowMs, reason, this.#config.backoff);
  }
}

const pausedReason = (s: Standing) =>
  `backed off until ${new Date(s.pausedUntilMs).toISOString()} (strike ${s.strikes}): ${s.reason}`;

/**
 * After an accept round: strikes every party to blame for an allocation that lapsed — those whose
 * accept is missing (they did not accept, or declined); when everyone accepted, `open` could not
 * lock someone's funds, so those among the parties short of their lock.
 */
export async function strikeLapses(
  deps: {
    readonly standing: StandingRegistry;
    readonly accepts: AcceptRegistry;
    readonly balances?: FreeBalances;
  },
  lapsed: ReadonlyArray<{ allocationId: Bytes32; reason: string }>,
  nowMs: number,
  config: { readonly fees?: MarketFees; readonly backoff?: BackoffPolicy } = {},
): Promise<Array<{ allocationId: Bytes32; account: Address; reason: string }>> {
  const struck: Array<{ allocationId: Bytes32; account: Address; reason: string }> = [];
  for (const { allocationId, reason } of lapsed) {
    const p = await deps.accepts.progress(allocationId);
    if (!p) continue;
    const a = p.allocation;
    let culprits = [a.customer, a.mediator, ...a.suppliers].filter((x) => !p.accepts.has(x));
    if (culprits.length === 0 && deps.balances && config.fees) {
      const locks = locksOf(a, config.fees);
      const free = await deps.balances.freeBalances([...locks.keys()]);
      culprits = [...locks].filter(([x, lock]) => (free.get(x) ?? 0n) < lock).map(([x]) => x);
    }
    const why = `allocation ${allocationId} lapsed: ${reason}`;
    for (const account of culprits) {
      await deps.standing.recordStrike(account, nowMs, why, config.backoff);
      struck.push({ allocationId, account, reason: why });
    }
  }
  return struck;
}

/**
 * A StandingRegistry in memory: the local market's (one long-lived process) and the tests'. Its
 * refusals are bounded (the oldest are forgotten), so hostile offers cannot grow it without end.
 */
export class MemoryStandingRegistry implements StandingRegistry {
  readonly #standings = new Map<Address, Standing>();
  readonly #refusals = new Map<Bytes32, OfferRefusal>();
  readonly #maxRefusals: number;

  constructor(maxRefusals = 10_000) {
    this.#maxRefusals = maxRefusals;
  }

  async standings(accounts: readonly Address[]): Promise<Map<Address, Standing>> {
    const out = new Map<Address, Standing>();
    for (const a of accounts) {
      const s = this.#standings.get(a);
      if (s) out.set(a, s);
    }
    return out;
  }

  async recordStrike(account: Address, atMs: number, reason: string, policy?: BackoffPolicy) {
    const next = strike(this.#standings.get(account), account, atMs, reason, policy);
    this.#standings.set(account, next);
    return next;
  }

  async refuseOffer(refusal: OfferRefusal): Promise<void> {
    this.#refusals.delete(refusal.offerId);
    this.#refusals.set(refusal.offerId, refusal);
    if (this.#refusals.size > this.#maxRefusals) this.#refusals.delete(this.#refusals.keys().next().value!);
  }

  async refusalOf(offerId: Bytes32): Promise<OfferRefusal | undefined> {
    return this.#refusals.get(offerId);
  }
}

/** AdmittedParticipants in memory (tests; the local market uses the DynamoDB registry). */
export class MemoryParticipants implements AdmittedParticipants {
  readonly #admitted = new Map<string, Set<AdmittedKind>>();

  admit(account: Address, kind: AdmittedKind): void {
    const key = account.toLowerCase();
    this.#admitted.set(key, new Set([...(this.#admitted.get(key) ?? []), kind]));
  }

  async admitted(accounts: readonly Address[]): Promise<Map<string, ReadonlySet<AdmittedKind>>> {
    const out = new Map<string, ReadonlySet<AdmittedKind>>();
    for (const a of accounts) {
      const kinds = this.#admitted.get(a.toLowerCase());
      if (kinds) out.set(a.toLowerCase(), kinds);
    }
    return out;
  }
}

/** PendingAllocations over the accept round's registry: every allocation still collecting accepts. */
export function pendingFromAccepts(registry: AcceptRegistry, concurrency = 8): PendingAllocations {
  return {
    async awaitingOpen() {
      const progress = await mapLimited(await registry.awaitingOpen(), concurrency, (id) =>
        registry.progress(id),
      );
      return progress
        .filter((p) => p !== undefined && (p.status === "awaiting" || p.status === "submitting"))
        .map((p) => p!.allocation);
    },
  };
}
