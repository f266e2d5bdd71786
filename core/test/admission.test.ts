// The front door's pure decisions (issue 16): market bounds, what `open` locks, who cannot fund
// the auction's allocations, and the backoff of a party's standing.
import { describe, expect, it } from "vitest";
import {
  type Address,
  type Allocation,
  type Bytes32,
  boundsViolation,
  DEFAULT_MARKET_BOUNDS,
  isPaused,
  leastLock,
  locksOf,
  type PlannedAllocation,
  SCHEMA_VERSION,
  strike,
  unfundedParties,
} from "../src/index.ts";
import { aCustomerOffer, alice, aSupplierOffer, bob, carol, dave, wallet } from "./fixtures.ts";

const fees = { penaltyRate: 1_000n, allocatorFee: 10n, mediatorFee: 20n };
const A = alice.address as Address;
const B = bob.address as Address;
const E = wallet(4).address as Address;

function allocation(o: Partial<Allocation> = {}): Allocation {
  return {
    schemaVersion: SCHEMA_VERSION,
    allocator: dave.address as Address,
    customer: A,
    suppliers: [B, E],
    mediator: carol.address as Address,
    customerOffer: `0x${"c0".repeat(32)}`,
    supplierOffers: [`0x${"50".repeat(32)}`, `0x${"51".repeat(32)}`],
    serviceHash: `0x${"5e".repeat(32)}`,
    start: 1_000,
    end: 1_060,
    pricePerMi: 3n,
    miPerInput: 100,
    inputsPerSecond: 10,
    testCount: 1,
    minReplicas: 1,
    nonce: 1n,
    ...o,
  };
}

const planned = (a: Allocation): PlannedAllocation => ({
  allocation: a,
  customerOfferId: a.customerOffer,
  supplierOfferIds: a.supplierOffers as Bytes32[],
  welfare: 0n,
  commitment: { start: a.start, end: a.end, mips: 1_000, ramMb: 1 },
});

describe("market bounds", () => {
  it("refuses what exceeds them, with the reason, and admits the rest", () => {
    expect(boundsViolation(aCustomerOffer())).toBeUndefined();
    expect(boundsViolation(aSupplierOffer())).toBeUndefined();
    expect(boundsViolation(aCustomerOffer({ maxPricePerMi: 2n ** 256n - 1n }))).toMatch(
      /^maxPricePerMi .* exceeds/,
    );
    expect(boundsViolation(aCustomerOffer({ replicas: 16 }))).toBe("16 replicas exceed the market's 8");
    expect(
      boundsViolation(aSupplierOffer({ minPricePerMi: DEFAULT_MARKET_BOUNDS.maxPricePerMi + 1n })),
    ).toMatch(/^minPricePerMi/);
    const o = aCustomerOffer();
    expect(boundsViolation({ ...o, end: o.start + 365 * 86_400 })).toMatch(/^window of 31536000 s exceeds/);
    expect(boundsViolation(o, { ...DEFAULT_MARKET_BOUNDS, maxWindowSeconds: o.end - o.start - 1 })).toMatch(
      /window/,
    );
  });
});

describe("what `open` locks", () => {
  it("is the contract's: Customer r·P + D + M + F, each Supplier D + F, the Mediator r·(P + D)", () => {
    // π_s = 100·3 = 300; P = 10·60·300 = 180 000; D = 1 000·300 = 300 000.
    const locks = locksOf(allocation(), fees);
    expect(locks.get(A)).toBe(2n * 180_000n + 300_000n + 20n + 10n);
    expect(locks.get(B)).toBe(300_010n);
    expect(locks.get(E)).toBe(300_010n);
    // The Mediator's bond r·(P + D).
    expect(locks.get(carol.address as Address)).toBe(2n * (180_000n + 300_000n));
    expect(leastLock(aCustomerOffer(), fees)).toBe(30n);
    expect(leastLock(aSupplierOffer(), fees)).toBe(10n);
  });

  it("finds the parties that run short, spending their balance allocation by allocation", () => {
    const a1 = allocation();
    const a2 = allocation({ nonce: 2n, start: 1_060, end: 1_120 });
    const enough = new Map<Address, bigint>([
      [A, 2n * 660_030n],
      [B, 2n * 300_010n],
      [E, 2n * 300_010n],
    ]);
    expect(unfundedParties([planned(a1), planned(a2)], enough, fees)).toEqual([]);
    // E can fund one allocation, not two; A can fund neither (missing: holds nothing).
    const short = unfundedParties(
      [planned(a1), planned(a2)],
      new Map([
        [B, 10n ** 9n],
        [E, 300_010n],
      ]),
      fees,
    );
    expect(short.map((u) => [u.account, u.offerId, u.needs, u.free])).toEqual([
      [A, a1.customerOffer, 660_030n, 0n],
    ]);
    const eShort = unfundedParties(
      [planned(a1), planned(a2)],
      new Map([
        [A, 10n ** 9n],
        [B, 10n ** 9n],
        [E, 300_010n],
      ]),
      fees,
    );
    expect(eShort).toEqual([
      expect.objectContaining({ account: E, offerId: a2.supplierOffers[1], needs: 300_010n, free: 0n }),
    ]);
    expect(eShort[0]!.reason).toMatch(
      /^insufficient free balance in the market: allocation 1060–1120 would lock 300010, 0 left free$/,
    );
  });
});

describe("standing", () => {
  const policy = { baseMs: 1_000, maxMs: 5_000, forgetAfterMs: 60_000 };
  it("pauses for a doubling interval, capped, and forgets after a quiet spell", () => {
    const s1 = strike(undefined, A, 0, "lapsed", policy);
    expect(s1).toEqual({ account: A, strikes: 1, lastStrikeMs: 0, pausedUntilMs: 1_000, reason: "lapsed" });
    expect(isPaused(s1, 999)).toBe(true);
    expect(isPaused(s1, 1_000)).toBe(false);
    const s2 = strike(s1, A, 2_000, "lapsed", policy);
    expect(s2.pausedUntilMs).toBe(4_000);
    const s3 = strike(s2, A, 4_000, "lapsed", policy);
    expect(s3.pausedUntilMs).toBe(8_000);
    const s4 = strike(s3, A, 8_000, "lapsed", policy);
    expect(s4.pausedUntilMs).toBe(13_000);
    const many = Array.from({ length: 2_000 }).reduce<ReturnType<typeof strike>>(
      (s) => strike(s, A, 9_000, "x", policy),
      s4,
    );
    expect(many.pausedUntilMs).toBe(14_000);
    expect(strike(many, A, 9_000 + 60_001, "again", policy)).toMatchObject({
      strikes: 1,
      pausedUntilMs: 70_001,
    });
  });
});
