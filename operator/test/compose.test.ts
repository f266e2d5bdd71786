// composeAllocator builds the graph the handlers and the local market both run: the front door,
// offer statuses (recorded and published) and reputations are part of every offer round; ρ, F and
// M are read from the market once, and again after a failed read.
import type { Address, MarketFees, OfferStatus, Reputation } from "@surplus/core";
import { describe, expect, it } from "vitest";
import { MemoryParticipants, MemoryStandingRegistry } from "../src/allocator/front-door.ts";
import { composeAllocator } from "../src/compose.ts";
import type { OfferStatusRegistry } from "../src/ports.ts";
import { MemoryMarket } from "./support/accept-scenario.ts";
import {
  allocatorWallet,
  customerBody,
  domain,
  MemoryOfferSource,
  MemoryPublisher,
  NOW_MS,
  signedOffer,
  supplierBody,
  wallet,
} from "./support/allocator-scenario.ts";
import { MemoryAcceptRegistry } from "./support/memory-accept-registry.ts";
import { MemoryAllocatorRegistry } from "./support/memory-allocator-registry.ts";

const FEES: MarketFees = { penaltyRate: 1_000n, allocatorFee: 1n, mediatorFee: 1n };

async function market(readFees: () => Promise<MarketFees>) {
  const offers = new MemoryOfferSource();
  offers.append(await signedOffer(0, supplierBody(0)));
  offers.append(await signedOffer(10, customerBody(10)));
  const participants = new MemoryParticipants();
  participants.admit(wallet(0).address as Address, "supplier");
  participants.admit(wallet(10).address as Address, "customer");
  const recorded: OfferStatus[] = [];
  const published: OfferStatus[] = [];
  let reputationReads = 0;
  const statuses: OfferStatusRegistry = {
    recordStatuses: async (s) => {
      recorded.push(...s);
      return [...s];
    },
    statuses: async () => recorded,
  };
  const registry = new MemoryAllocatorRegistry();
  const allocator = composeAllocator(
    { domain },
    {
      allocator: allocatorWallet.address as Address,
      offers,
      accepts: new MemoryOfferSource(),
      registry,
      acceptRegistry: new MemoryAcceptRegistry(registry),
      publisher: new MemoryPublisher(),
      opener: new MemoryMarket(),
      balances: { freeBalances: async (accounts) => new Map(accounts.map((a) => [a, 10n ** 30n])) },
      standing: new MemoryStandingRegistry(),
      participants,
      statuses,
      statusChannel: { publish: async (s) => void published.push(...s) },
      reputation: {
        recordClose: async () => undefined,
        reputations: async () => {
          reputationReads++;
          return new Map<Address, Reputation>();
        },
      },
      readFees,
    },
  );
  return { allocator, recorded, published, reputationReads: () => reputationReads };
}

describe("composeAllocator", () => {
  it("runs the offer round with the front door, offer statuses and reputations", async () => {
    const m = await market(async () => FEES);

    const report = await m.allocator.offerRound(NOW_MS);

    expect(report).toMatchObject({ recorded: 2, allocations: 1, published: 1, refused: [] });
    expect(m.recorded.map((s) => s.kind).sort()).toEqual(["customer", "supplier"]);
    expect(m.published).toHaveLength(2);
    expect(m.reputationReads()).toBe(1);
  });

  it("reads the market's fees once, and again after a read that failed", async () => {
    let reads = 0;
    const m = await market(async () => {
      reads++;
      if (reads === 1) throw new Error("chain unreachable");
      return FEES;
    });

    await expect(m.allocator.offerRound(NOW_MS)).rejects.toThrow("chain unreachable");
    await m.allocator.offerRound(NOW_MS);
    await m.allocator.offerRound(NOW_MS + 1_000);
    await m.allocator.acceptRound(NOW_MS + 2_000);

    expect(reads).toBe(2);
  });
});
