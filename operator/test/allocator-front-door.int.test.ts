// The Allocator's front door (issue 16) against the market contract on the Hardhat node: free
// balances are read from the chain, so an unfunded party's offers are refused with a reason and
// never allocated while the honest pair still matches in the same round; a party that lets its
// allocations lapse is backed off. The registries are the in-memory ones (the round's storage is
// not what this tests); the round's clock is the scenario's (balances do not depend on it).
import { ContractFreeBalances, readMarketFees } from "@surplus/adapters/chain";
import { type DeployedMarket, deployMarket } from "@surplus/contracts";
import {
  type Address,
  type Allocation,
  type Bytes32,
  type CustomerOffer,
  locksOf,
  type MarketFees,
  offerId,
  type SupplierOffer,
  signEnvelope,
} from "@surplus/core";
import { type Contract, JsonRpcProvider, type JsonRpcSigner } from "ethers";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type AcceptRoundConfig, runAcceptRound } from "../src/allocator/accept-round.ts";
import {
  type FrontDoorConfig,
  MemoryStandingRegistry,
  pendingFromAccepts,
  strikeLapses,
} from "../src/allocator/front-door.ts";
import { type AllocatorConfig, runAllocatorRound } from "../src/allocator/offer-round.ts";
import { MemoryMarket } from "./support/accept-scenario.ts";
import {
  customerBody,
  MemoryOfferSource,
  MemoryPublisher,
  NOW_MS,
  supplierBody,
} from "./support/allocator-scenario.ts";
import { MemoryAcceptRegistry } from "./support/memory-accept-registry.ts";
import { MemoryAllocatorRegistry } from "./support/memory-allocator-registry.ts";

const provider = new JsonRpcProvider(inject("chainRpcUrl"), undefined, { pollingInterval: 100 });
let m: DeployedMarket;
let fees: MarketFees;
let allocator: JsonRpcSigner;
let mediator: Address;
/** Funded honestly: one Customer, two Suppliers. */
let customer: JsonRpcSigner;
let suppliers: JsonRpcSigner[];
/** Hold nothing, or too little for what they bid. */
let greedy: JsonRpcSigner;
let absurd: JsonRpcSigner;
let freeRider: JsonRpcSigner;
/** Funded, then left with one and a half allocations' worth. */
let thrifty: JsonRpcSigner;

const address = async (s: JsonRpcSigner) => (await s.getAddress()) as Address;

async function fund(s: JsonRpcSigner, amount: bigint) {
  const token = m.token.connect(s) as Contract;
  await (await token.getFunction("mint")(await s.getAddress(), amount)).wait();
  await (await token.getFunction("approve")(m.marketAddress, amount)).wait();
  await (await (m.market.connect(s) as Contract).getFunction("deposit")(amount)).wait();
}

async function signed(s: JsonRpcSigner, body: CustomerOffer | SupplierOffer) {
  return body.kind === "customer"
    ? signEnvelope(s, m.domain, "CustomerOffer", body, NOW_MS)
    : signEnvelope(s, m.domain, "SupplierOffer", body, NOW_MS);
}

/** Two Suppliers with room for one 4 000-MIPS replica each (the scenario's bodies, our accounts). */
async function supplierOffers(): Promise<SupplierOffer[]> {
  return Promise.all(
    suppliers.map(async (s, i) =>
      supplierBody(i, { account: await address(s), mediators: [mediator], minPricePerMi: 10n ** 9n }),
    ),
  );
}

/** The honest Customer: two replicas of 1 000 MIPS at up to 2·10^9 per MI. */
async function honestOffer(): Promise<CustomerOffer> {
  return customerBody(10, {
    account: await address(customer),
    mediators: [mediator],
    maxPricePerMi: 2n * 10n ** 9n,
  });
}

function roundConfig(): AllocatorConfig {
  return {
    domain: m.domain,
    allocator: allocator.address as Address,
    penaltyRate: fees.penaltyRate,
    frontDoor: { fees, backoff: { baseMs: 60_000, maxMs: 600_000, forgetAfterMs: 3_600_000 } },
  };
}

beforeAll(async () => {
  const accounts = await provider.listAccounts();
  const [deployer] = accounts;
  [allocator, customer, greedy, absurd, freeRider] = accounts.slice(1, 6) as JsonRpcSigner[] as [
    JsonRpcSigner,
    JsonRpcSigner,
    JsonRpcSigner,
    JsonRpcSigner,
    JsonRpcSigner,
  ];
  suppliers = accounts.slice(6, 8);
  mediator = (await accounts[8]!.getAddress()) as Address;
  thrifty = accounts[9]!;
  m = await deployMarket(deployer!);
  fees = await readMarketFees(provider, m.marketAddress);
  // The Mediator too: the Allocator chooses only one that can cover its bond r·(P + D).
  for (const p of [customer, ...suppliers, thrifty, accounts[8]!]) await fund(p, 10n ** 24n);
  // Enough for the least lock (M + F), far too little for what it bids.
  await fund(greedy, 10n ** 16n);
}, 180_000);

afterAll(() => provider.destroy());

describe("the Allocator's front door on the market contract", () => {
  it("reads the contract's fees: what `open` locks", () => {
    expect(fees).toEqual({
      penaltyRate: m.parameters.penaltyRate,
      allocatorFee: m.parameters.allocatorFee,
      mediatorFee: m.parameters.mediatorFee,
    });
  });

  it("never allocates unfunded or out-of-bounds offers; the honest pair matches in the same round", async () => {
    const source = new MemoryOfferSource();
    const registry = new MemoryAllocatorRegistry();
    const publisher = new MemoryPublisher();
    const standing = new MemoryStandingRegistry();
    const balances = new ContractFreeBalances(provider, m.marketAddress);
    // The attacks of issue 16: a bid at 2^256 − 1 for 16 replicas over a year; a high bid that
    // takes every Supplier's whole capacity from an account holding ~nothing; a free Supplier.
    const absurdBody = customerBody(11, {
      account: await address(absurd),
      mediators: [mediator],
      maxPricePerMi: 2n ** 256n - 1n,
      replicas: 16,
      end: customerBody(11).start + 365 * 86_400,
    });
    const greedyBody = customerBody(12, {
      account: await address(greedy),
      mediators: [mediator],
      maxPricePerMi: 10n ** 12n,
      inputsPerSecond: 40,
    });
    const freeRiderBody = supplierBody(13, {
      account: await address(freeRider),
      mediators: [mediator],
      minPricePerMi: 0n,
      capacityMips: 64_000,
    });
    const [s0, s1] = await supplierOffers();
    source.append(await signed(suppliers[0]!, s0!));
    source.append(await signed(suppliers[1]!, s1!));
    source.append(await signed(absurd, absurdBody));
    source.append(await signed(greedy, greedyBody));
    source.append(await signed(freeRider, freeRiderBody));
    source.append(await signed(customer, await honestOffer()));

    const report = await runAllocatorRound(
      { source, registry, publisher, frontDoor: { balances, standing } },
      roundConfig(),
      NOW_MS,
    );

    // Out of bounds: refused at the door, never recorded.
    expect(report.rejected).toEqual([
      {
        position: source.messages[2]!.position,
        error: expect.stringMatching(/offer refused: window of .* exceeds/),
      },
    ]);
    expect(registry.offers.has(offerId(m.domain, absurdBody))).toBe(false);
    // Unfunded: recorded, refused with the reason, backed off.
    const greedyId = offerId(m.domain, greedyBody);
    const freeRiderId = offerId(m.domain, freeRiderBody);
    expect(await standing.refusalOf(freeRiderId)).toMatchObject({
      reason: expect.stringMatching(
        /^insufficient free balance in the market: any allocation locks at least \d+, 0 free$/,
      ),
    });
    expect(await standing.refusalOf(greedyId)).toMatchObject({
      reason: expect.stringMatching(
        /^insufficient free balance in the market: allocation .* would lock \d+, 10000000000000000 left free$/,
      ),
    });
    const everyone = [
      ...(await Promise.all([...suppliers, customer, absurd, greedy, freeRider].map(address))),
      mediator,
    ] as Address[];
    const paused = await standing.standings(everyone);
    expect([...paused.keys()].sort()).toEqual([await address(greedy), await address(freeRider)].sort());
    for (const s of paused.values()) expect(s.pausedUntilMs).toBe(NOW_MS + 60_000);
    // Only the honest pair is allocated, on both honest Suppliers.
    const allocations = [...publisher.allocations.values()];
    expect(allocations.length).toBeGreaterThan(0);
    expect(report.allocations).toBe(allocations.length);
    const honestSuppliers = await Promise.all(suppliers.map(address));
    for (const a of allocations) {
      expect(a.customer).toBe(await address(customer));
      for (const s of a.suppliers) expect(honestSuppliers).toContain(s);
    }
    expect(new Set(allocations.flatMap((a) => a.suppliers))).toEqual(new Set(honestSuppliers));

    // The next round leaves the paused parties' offers out, saying why.
    const next = await runAllocatorRound(
      { source, registry, publisher, frontDoor: { balances, standing } },
      roundConfig(),
      NOW_MS + 1_000,
    );
    for (const a of publisher.allocations.values()) expect(a.customer).toBe(await address(customer));
    expect(next.refused.map((r) => r.offerId).sort()).toEqual([greedyId, freeRiderId].sort());
    for (const r of next.refused)
      expect(r.reason).toMatch(/^backed off until .* \(strike 1\): insufficient free balance/);
  });

  it("backs off a Supplier that let its allocation lapse: the Customer is matched again without it", async () => {
    const source = new MemoryOfferSource();
    const registry = new MemoryAllocatorRegistry();
    const accepts = new MemoryAcceptRegistry(registry);
    const publisher = new MemoryPublisher();
    const standing = new MemoryStandingRegistry();
    const balances = new ContractFreeBalances(provider, m.marketAddress);
    const [s0, s1] = await supplierOffers();
    source.append(await signed(suppliers[0]!, s0!));
    source.append(await signed(suppliers[1]!, s1!));
    source.append(await signed(customer, { ...(await honestOffer()), replicas: 1 }));
    const deps = { source, registry, publisher, frontDoor: { balances, standing } };
    await runAllocatorRound(deps, roundConfig(), NOW_MS);
    const [[id, first]] = [...publisher.allocations] as [[Bytes32, Allocation]];
    const silent = first.suppliers[0]!;
    const acceptConfig: AcceptRoundConfig = { domain: m.domain, allocator: allocator.address as Address };

    // Nobody accepts by the signing deadline (the start): it lapses, and everyone silent is struck.
    const lapsedAtMs = first.start * 1000;
    const lapse = await runAcceptRound(
      { source: new MemoryOfferSource(), registry: accepts, opener: new MemoryMarket() },
      acceptConfig,
      lapsedAtMs,
    );
    expect(lapse.lapsed.map((l) => l.allocationId)).toEqual([id]);
    const struck = await strikeLapses({ standing, accepts, balances }, lapse.lapsed, lapsedAtMs, {
      fees,
      backoff: roundConfig().frontDoor!.backoff!,
    } satisfies FrontDoorConfig);
    expect(struck.map((s) => s.account).sort()).toEqual([first.customer, first.mediator, silent].sort());
    expect((await standing.standings([silent])).get(silent)).toMatchObject({
      strikes: 1,
      pausedUntilMs: lapsedAtMs + 60_000,
      reason: expect.stringMatching(new RegExp(`^allocation ${id} lapsed: signing deadline`)),
    });

    // Say the Customer and Mediator did accept after all: forgive them, keep the Supplier paused.
    const forgiven = new MemoryStandingRegistry();
    await forgiven.recordStrike(silent, lapsedAtMs, "lapsed", roundConfig().frontDoor!.backoff);
    const again = await runAllocatorRound(
      { ...deps, source: new MemoryOfferSource(), frontDoor: { balances, standing: forgiven } },
      roundConfig(),
      lapsedAtMs,
    );
    expect(again.allocations).toBe(1);
    const second = [...publisher.allocations.values()].find((a) => a !== first)!;
    expect(second.suppliers).not.toContain(silent);
    expect(again.refused).toEqual([
      expect.objectContaining({ account: silent, reason: expect.stringMatching(/^backed off until/) }),
    ]);

    // A second lapse doubles the pause.
    const twice = await forgiven.recordStrike(
      silent,
      lapsedAtMs + 70_000,
      "lapsed again",
      roundConfig().frontDoor!.backoff,
    );
    expect(twice).toMatchObject({ strikes: 2, pausedUntilMs: lapsedAtMs + 70_000 + 120_000 });
  });

  it("reserves what allocations awaiting `open` will lock: no second allocation on the same funds", async () => {
    const source = new MemoryOfferSource();
    const registry = new MemoryAllocatorRegistry();
    const accepts = new MemoryAcceptRegistry(registry);
    const publisher = new MemoryPublisher();
    const balances = new ContractFreeBalances(provider, m.marketAddress);
    const deps = {
      source,
      registry,
      publisher,
      frontDoor: { balances, standing: new MemoryStandingRegistry(), pending: pendingFromAccepts(accepts) },
    };
    const [s0, s1] = await supplierOffers();
    source.append(await signed(suppliers[0]!, s0!));
    source.append(await signed(suppliers[1]!, s1!));
    const offer = { ...(await honestOffer()), account: await address(thrifty), replicas: 1 };
    source.append(await signed(thrifty, offer));
    await runAllocatorRound(deps, roundConfig(), NOW_MS);
    const [first] = [...publisher.allocations.values()];
    expect(first?.customer).toBe(await address(thrifty));
    // Thrifty withdraws down to one and a half times what the first allocation will lock.
    const lock = locksOf(first!, fees).get(await address(thrifty))!;
    const market = m.market.connect(thrifty) as Contract;
    const held = (await market.getFunction("balanceOf")(await address(thrifty))) as bigint;
    await (await market.getFunction("withdraw")(held - (lock * 3n) / 2n)).wait();

    // A second offer like the first: the chain says 1.5 locks free, but one is spoken for.
    const second = { ...offer, nonce: 2n };
    source.append(await signed(thrifty, second));
    const report = await runAllocatorRound(deps, roundConfig(), NOW_MS + 1_000);

    expect(report.allocations).toBe(0);
    expect(publisher.allocations.size).toBe(1);
    expect(report.refused).toEqual([
      expect.objectContaining({
        offerId: offerId(m.domain, second),
        reason: expect.stringMatching(
          /^insufficient free balance in the market: allocation .* would lock \d+, \d+ left free$/,
        ),
      }),
    ]);
  });
});
