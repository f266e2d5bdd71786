// The offer round's front door on the wire (issue 16): only admitted participants' offers count,
// each as the kind it was admitted as, and `sentAtMs` must lie within minutes of the message's
// arrival at the broker (not ± a day around the round).
import {
  type Address,
  type Allocation,
  type Bytes32,
  DEFAULT_MARKET_BOUNDS,
  SCHEMA_VERSION,
} from "@surplus/core";
import { describe, expect, it } from "vitest";
import { MemoryParticipants, MemoryStandingRegistry, strikeLapses } from "../src/allocator/front-door.ts";
import { runAllocatorRound } from "../src/allocator/offer-round.ts";
import {
  config,
  customerBody,
  MemoryOfferSource,
  MemoryPublisher,
  mediator,
  NOW_MS,
  signedOffer,
  supplierBody,
  wallet,
} from "./support/allocator-scenario.ts";
import { MemoryAcceptRegistry } from "./support/memory-accept-registry.ts";
import { MemoryAllocatorRegistry } from "./support/memory-allocator-registry.ts";

/** Balances are not what these tests are about: everyone holds plenty. */
const rich = {
  freeBalances: async (accounts: readonly Address[]) => new Map(accounts.map((a) => [a, 10n ** 30n])),
};
const fees = { penaltyRate: 1_000n, allocatorFee: 1n, mediatorFee: 1n };

function door(participants: MemoryParticipants) {
  return { balances: rich, standing: new MemoryStandingRegistry(), participants };
}

describe("admission", () => {
  it("refuses offers signed by accounts the operator never admitted, or admitted as another kind", async () => {
    const participants = new MemoryParticipants();
    participants.admit(wallet(0).address as Address, "supplier");
    participants.admit(wallet(1).address as Address, "supplier");
    participants.admit(wallet(10).address as Address, "customer");
    const source = new MemoryOfferSource();
    source.append(await signedOffer(0, supplierBody(0)));
    source.append(await signedOffer(1, supplierBody(1)));
    // A fresh key (issue 16's first attack), and a Supplier posing as a Customer.
    source.append(await signedOffer(66, customerBody(66, { maxPricePerMi: 10n ** 6n })));
    source.append(await signedOffer(1, customerBody(1, { maxPricePerMi: 10n ** 6n })));
    source.append(await signedOffer(10, customerBody(10)));
    // An admitted account's offer, tampered with after signing: admission is no pass on the signature.
    const tampered = structuredClone(source.messages[0]!.payload) as { body: { capacityMips: number } };
    tampered.body.capacityMips = 999_999;
    source.append(tampered);
    const registry = new MemoryAllocatorRegistry();
    const publisher = new MemoryPublisher();

    const report = await runAllocatorRound(
      { source, registry, publisher, frontDoor: door(participants) },
      { ...config, batchSize: 10, frontDoor: { fees } },
      NOW_MS,
    );

    expect(report.recorded).toBe(3);
    expect(report.rejected).toEqual([
      {
        position: source.messages[2]!.position,
        error: `offer refused: signer ${wallet(66).address} is not an admitted participant`,
      },
      {
        position: source.messages[3]!.position,
        error: `offer refused: ${wallet(1).address} was admitted as supplier, not as a customer`,
      },
      {
        position: source.messages[5]!.position,
        error: expect.stringMatching(/^SupplierOffer is signed by 0x[0-9a-fA-F]{40}, not by its account/),
      },
    ]);
    const customers = [...publisher.allocations.values()].map((a) => a.customer);
    expect(customers.length).toBeGreaterThan(0);
    for (const c of customers) expect(c).toBe(wallet(10).address);
  });
});

describe("freshness", () => {
  it("judges sentAtMs against the broker's arrival time, within minutes", async () => {
    const source = new MemoryOfferSource();
    const at = (payload: unknown, publishedAtMs: number) =>
      source.messages.push({
        position: String(source.messages.length + 1).padStart(12, "0"),
        payload,
        publishedAtMs,
      });
    // Stamped 23 h ahead (issue 16's fourth finding), 10 min behind, and a fresh one that waited
    // in the channel for an hour while the Allocator was down.
    at(await signedOffer(0, supplierBody(0), NOW_MS + 23 * 3_600_000), NOW_MS);
    at(await signedOffer(1, supplierBody(1), NOW_MS - 600_000), NOW_MS);
    at(await signedOffer(2, supplierBody(2), NOW_MS - 3_600_000), NOW_MS - 3_600_000 + 200);
    const registry = new MemoryAllocatorRegistry();

    const report = await runAllocatorRound(
      { source, registry, publisher: new MemoryPublisher() },
      { ...config, batchSize: 10 },
      NOW_MS,
    );

    expect(report.recorded).toBe(1);
    expect(report.rejected.map((r) => r.position)).toEqual([
      source.messages[0]!.position,
      source.messages[1]!.position,
    ]);
    for (const r of report.rejected) expect(r.error).toMatch(/outside the ±300000 ms window/);
    const stored = [...registry.offers.values()].map((r) => r.record.offer.account);
    expect(stored).toEqual([wallet(2).address]);

    const looser = await runAllocatorRound(
      { source, registry: new MemoryAllocatorRegistry(), publisher: new MemoryPublisher() },
      { ...config, batchSize: 10, maxSkewMs: 700_000 },
      NOW_MS,
    );
    expect(looser.recorded).toBe(2);
  });
});

describe("strikes after a lapse", () => {
  const terms: Allocation = {
    schemaVersion: SCHEMA_VERSION,
    allocator: wallet(900).address as Address,
    customer: wallet(10).address as Address,
    suppliers: [wallet(0).address as Address, wallet(1).address as Address],
    mediator: wallet(901).address as Address,
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
  };
  const id = `0x${"1d".repeat(32)}` as Bytes32;
  const accepted = async (accepts: MemoryAcceptRegistry, who: readonly Address[]) => {
    accepts.add(id, terms);
    for (const account of who)
      await accepts.recordAccept({
        allocationId: id,
        account,
        signature: `0x${"00".repeat(65)}`,
        commitment: `0x${"00".repeat(32)}`,
        envelope: "{}",
        recordedAtMs: 0,
      });
  };

  it("strikes the parties whose accept is missing, and nobody else", async () => {
    const accepts = new MemoryAcceptRegistry();
    await accepted(accepts, [terms.customer, terms.mediator, terms.suppliers[0]!]);
    const standing = new MemoryStandingRegistry();
    const struck = await strikeLapses(
      { standing, accepts },
      [{ allocationId: id, reason: "deadline" }],
      5_000,
    );
    expect(struck.map((s) => s.account)).toEqual([terms.suppliers[1]]);
    expect([
      ...(await standing.standings([terms.customer, terms.mediator, ...terms.suppliers])).keys(),
    ]).toEqual([terms.suppliers[1]]);
  });

  it("when everyone accepted, strikes those who could not fund what `open` locks", async () => {
    const accepts = new MemoryAcceptRegistry();
    await accepted(accepts, [terms.customer, terms.mediator, ...terms.suppliers]);
    // D + F = 1 000·300 + 1 = 300 001 for each Supplier; the second holds one unit less.
    const balances = {
      freeBalances: async (accounts: readonly Address[]) =>
        new Map(accounts.map((a) => [a, a === terms.suppliers[1] ? 300_000n : 10n ** 18n])),
    };
    const standing = new MemoryStandingRegistry();
    const struck = await strikeLapses(
      { standing, accepts, balances },
      [{ allocationId: id, reason: "open failed until the deadline" }],
      5_000,
      { fees },
    );
    expect(struck).toEqual([
      {
        allocationId: id,
        account: terms.suppliers[1],
        reason: `allocation ${id} lapsed: open failed until the deadline`,
      },
    ]);
  });
});

describe("open offers per account", () => {
  it("refuses an account's offers beyond the market's cap, counting those still open from earlier rounds", async () => {
    const source = new MemoryOfferSource();
    const registry = new MemoryAllocatorRegistry();
    const cfg = {
      ...config,
      batchSize: 10,
      frontDoor: { bounds: { ...DEFAULT_MARKET_BOUNDS, maxOpenOffersPerAccount: 3 } },
    };
    for (const nonce of [1n, 2n]) source.append(await signedOffer(0, supplierBody(0, { nonce })));
    const first = await runAllocatorRound(
      { source, registry, publisher: new MemoryPublisher() },
      cfg,
      NOW_MS,
    );
    for (const nonce of [3n, 4n, 5n]) source.append(await signedOffer(0, supplierBody(0, { nonce })));
    source.append(await signedOffer(1, supplierBody(1)));

    const second = await runAllocatorRound(
      { source, registry, publisher: new MemoryPublisher() },
      cfg,
      NOW_MS,
    );

    expect(first.recorded).toBe(2);
    expect(second.recorded).toBe(2);
    expect(second.rejected).toEqual(
      [3, 4].map((i) => ({
        position: source.messages[i]!.position,
        error: `offer refused: ${wallet(0).address} has 3 open offers; the market allows 3`,
      })),
    );
    expect((await registry.openOffers()).suppliers).toHaveLength(4);
  });
});

describe("the Mediator's bond (issue 16)", () => {
  async function roundWithMediatorHolding(mediatorFree: bigint) {
    const participants = new MemoryParticipants();
    participants.admit(wallet(0).address as Address, "supplier");
    participants.admit(wallet(10).address as Address, "customer");
    const source = new MemoryOfferSource();
    source.append(await signedOffer(0, supplierBody(0)));
    source.append(await signedOffer(10, customerBody(10)));
    const publisher = new MemoryPublisher();
    const balances = {
      freeBalances: async (accounts: readonly Address[]) =>
        new Map(accounts.map((a) => [a, a === mediator ? mediatorFree : 10n ** 30n])),
    };
    const report = await runAllocatorRound(
      {
        source,
        registry: new MemoryAllocatorRegistry(),
        publisher,
        frontDoor: { balances, standing: new MemoryStandingRegistry(), participants },
      },
      { ...config, batchSize: 10, frontDoor: { fees } },
      NOW_MS,
    );
    return { report, allocations: [...publisher.allocations.values()] };
  }

  it("allocates under a Mediator that can cover its bond, and not under one that holds nothing", async () => {
    const funded = await roundWithMediatorHolding(10n ** 30n);
    expect(funded.allocations.length).toBeGreaterThan(0);
    for (const a of funded.allocations) expect(a.mediator).toBe(mediator);

    const short = await roundWithMediatorHolding(0n);
    expect(short.allocations).toEqual([]);
  });
});
