// A party's standing with the Allocator (issue 16): a party whose allocations lapse (it did not
// accept, or could not fund `open`) or whose offer could not be funded is backed off — its offers
// are left out of the auction for a pause that doubles with each strike — instead of being
// allocated again every round. Pure decisions here; the store is a port.
import type { Address, Allocation, Bytes32 } from "../schemas.ts";

export interface BackoffPolicy {
  /** The first strike's pause, ms. */
  readonly baseMs: number;
  /** The longest pause, ms. */
  readonly maxMs: number;
  /** A party with no strike for this long starts over at `baseMs`. */
  readonly forgetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = {
  baseMs: 30_000,
  maxMs: 3_600_000,
  forgetAfterMs: 86_400_000,
};

export interface Standing {
  readonly account: Address;
  /** Strikes counted towards the pause (reset after `forgetAfterMs` without one). */
  readonly strikes: number;
  readonly lastStrikeMs: number;
  /** Its offers are left out of every auction before this instant. */
  readonly pausedUntilMs: number;
  /** Why, for the party (the offer-status channel publishes it). */
  readonly reason: string;
}

/** The standing after one more strike at `atMs`. */
export function strike(
  previous: Standing | undefined,
  account: Address,
  atMs: number,
  reason: string,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): Standing {
  const fresh = !previous || atMs - previous.lastStrikeMs > policy.forgetAfterMs;
  const strikes = fresh ? 1 : previous.strikes + 1;
  // base·2^(strikes−1), capped; the exponent is capped too so the number stays finite.
  const pause = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(strikes - 1, 40));
  return {
    account,
    strikes,
    lastStrikeMs: atMs,
    pausedUntilMs: Math.max(previous?.pausedUntilMs ?? 0, atMs + pause),
    reason,
  };
}

export const isPaused = (s: Standing | undefined, nowMs: number): boolean =>
  s !== undefined && nowMs < s.pausedUntilMs;

/** An offer the Allocator refused, and why (kept for the offer-status channel, issue 17). */
export interface OfferRefusal {
  readonly offerId: Bytes32;
  readonly account: Address;
  readonly atMs: number;
  readonly reason: string;
}

/** Where the Allocator keeps parties' standing and its refusals of offers. */
export interface StandingRegistry {
  /** The standing of those of `accounts` that have one (paused or not). */
  standings(accounts: readonly Address[]): Promise<Map<Address, Standing>>;
  /** Records one strike against `account` (read-modify-write with `strike`); returns the new standing. */
  recordStrike(account: Address, atMs: number, reason: string, policy?: BackoffPolicy): Promise<Standing>;
  /** Records why an offer was refused (the latest reason wins). */
  refuseOffer(refusal: OfferRefusal): Promise<void>;
  /** The refusal recorded for an offer, if any. */
  refusalOf(offerId: Bytes32): Promise<OfferRefusal | undefined>;
}

/** Free balances of accounts in the market contract (what `open` can lock). */
export interface FreeBalances {
  /** One read per account; rejects when the chain cannot be read (the round then fails and is retried). */
  freeBalances(accounts: readonly Address[]): Promise<Map<Address, bigint>>;
}

/** What a participant was admitted as (its offers must be of these kinds). */
export type AdmittedKind = "customer" | "supplier" | "mediator" | "allocator";

/**
 * The participants the operator admitted (docs/front-door.md): the same procedure grants the
 * participant's broker role (its lower-cased address) and records it here, so each token's role
 * names exactly one admitted account.
 */
export interface AdmittedParticipants {
  /** Those of `accounts` that are admitted, lower-cased, with the kinds each was admitted as. */
  admitted(accounts: readonly Address[]): Promise<Map<string, ReadonlySet<AdmittedKind>>>;
}

/** Why `account` may not post an offer of `kind`, or undefined when it may. */
export function admissionViolation(
  account: Address,
  kind: "customer" | "supplier" | "mediator",
  admitted: ReadonlyMap<string, ReadonlySet<AdmittedKind>>,
): string | undefined {
  const kinds = admitted.get(account.toLowerCase());
  if (!kinds) return `signer ${account} is not an admitted participant`;
  if (!kinds.has(kind)) return `${account} was admitted as ${[...kinds].join(", ")}, not as a ${kind}`;
  return undefined;
}

/** Allocations made but not yet opened on the contract: their locks are already spoken for. */
export interface PendingAllocations {
  awaitingOpen(): Promise<Allocation[]>;
}
