// What a lapsed allocation gives back (accepts.ts step 3), shared by the unit tests (in-memory
// registries) and the integration tests (DynamoDB on moto): the Suppliers' capacity and the Customer
// offer's window return to the offers registry once, so the next offer round can match them again.
import {
  type AcceptRegistry,
  type Address,
  type Allocation,
  type AllocatorRegistry,
  type Bytes32,
  signEnvelope,
  toWire,
} from "@surplus/core";
import { describe, expect, it } from "vitest";
import { type AcceptRoundConfig, runAcceptRound } from "../../src/allocator/accept-round.ts";
import { runAllocatorRound } from "../../src/allocator/offer-round.ts";
import { MemoryMarket } from "./accept-scenario.ts";
import {
  allocatorWallet,
  config,
  customerBody,
  domain,
  MemoryOfferSource,
  MemoryPublisher,
  NOW_MS,
  signedOffer,
  supplierBody,
  wallet,
} from "./allocator-scenario.ts";

/** Both registries of one market, on the same storage (the accept round lapses what the offer round committed). */
export type MakeRegistries = () => Promise<{ offers: AllocatorRegistry; accepts: AcceptRegistry }>;

const acceptConfig: AcceptRoundConfig = { domain, allocator: allocatorWallet.address as Address };

/** Two Suppliers with room for exactly one replica per Customer each; `customers` Customers wanting two replicas. */
async function market(customers: number) {
  const source = new MemoryOfferSource();
  for (let i = 0; i < 2; i++)
    source.append(await signedOffer(i, supplierBody(i, { capacityMips: 1_000 * customers })));
  for (let i = 10; i < 10 + customers; i++) source.append(await signedOffer(i, customerBody(i)));
  return source;
}

async function declineBy(supplier: number, a: Allocation, id: Bytes32): Promise<unknown> {
  const body = {
    allocationId: id,
    account: a.suppliers.find((s) => s === wallet(supplier).address)!,
    reason: "busy",
  };
  return JSON.parse(toWire(await signEnvelope(wallet(supplier), domain, "Decline", body, NOW_MS)));
}

export function lapseReleaseCases(makeRegistries: MakeRegistries) {
  describe("a lapsed allocation's share", () => {
    it("returns to its offers at the signing deadline, and the next round matches the Customer offer again", async () => {
      const { offers, accepts } = await makeRegistries();
      const publisher = new MemoryPublisher();
      await runAllocatorRound({ source: await market(1), registry: offers, publisher }, config, NOW_MS);
      const [[id, first]] = [...publisher.allocations] as [[Bytes32, Allocation]];
      expect((await offers.openOffers()).customers).toEqual([]);

      const lapse = await runAcceptRound(
        { source: new MemoryOfferSource(), registry: accepts, opener: new MemoryMarket() },
        acceptConfig,
        first.start * 1000,
      );

      expect(lapse.lapsed.map((l) => l.allocationId)).toEqual([id]);
      const open = await offers.openOffers();
      expect(open.customers).toHaveLength(1);
      expect(open.customers[0]!.openWindows).toEqual([{ start: first.start, end: first.end }]);
      for (const s of open.suppliers) expect(s.commitments).toEqual([]);

      const again = await runAllocatorRound(
        { source: new MemoryOfferSource(), registry: offers, publisher },
        config,
        first.start * 1000,
      );

      expect(again.allocations).toBe(1);
      const second = [...publisher.allocations.values()].find((a) => a !== first)!;
      expect(second.customerOffer).toBe(first.customerOffer);
      expect(second.start).toBeGreaterThanOrEqual(first.start + 10);
      expect(new Set(second.supplierOffers)).toEqual(new Set(first.supplierOffers));
    });

    it("gives the Suppliers their capacity back but leaves a Customer offer past its t_e closed", async () => {
      const { offers, accepts } = await makeRegistries();
      const publisher = new MemoryPublisher();
      await runAllocatorRound({ source: await market(1), registry: offers, publisher }, config, NOW_MS);
      const [[id, a]] = [...publisher.allocations] as [[Bytes32, Allocation]];
      // t_e = c_end − δ_min − δ_setup − δ_alloc = end − 600 − 10.
      const pastExpiry = (a.end - 600 - 10 + 1) * 1000;
      const source = new MemoryOfferSource();
      source.append(await declineBy(0, a, id));

      const lapse = await runAcceptRound(
        { source, registry: accepts, opener: new MemoryMarket() },
        acceptConfig,
        pastExpiry,
      );

      expect(lapse.lapsed).toHaveLength(1);
      const open = await offers.openOffers();
      expect(open.customers).toEqual([]);
      expect(open.suppliers).toHaveLength(2);
      for (const s of open.suppliers) expect(s.commitments).toEqual([]);
    });

    it("is given back once when rounds lapse it concurrently and again on a retry", async () => {
      const { offers, accepts } = await makeRegistries();
      const publisher = new MemoryPublisher();
      // Both Customers on both Suppliers: each Supplier offer holds two equal commitments.
      await runAllocatorRound({ source: await market(2), registry: offers, publisher }, config, NOW_MS);
      expect(publisher.allocations.size).toBe(2);
      for (const s of (await offers.openOffers()).suppliers) expect(s.commitments).toHaveLength(2);
      const [[id, declined]] = [...publisher.allocations] as [[Bytes32, Allocation]];
      const source = new MemoryOfferSource();
      source.append(await declineBy(1, declined, id));
      const market_ = new MemoryMarket();

      const reports = await Promise.all(
        [0, 1, 2].map(() =>
          runAcceptRound({ source, registry: accepts, opener: market_ }, acceptConfig, NOW_MS),
        ),
      );
      const retry = await runAcceptRound(
        { source, registry: accepts, opener: market_ },
        { ...acceptConfig, cursorName: "replay" },
        NOW_MS + 1_000,
      );

      expect(reports.flatMap((r) => r.lapsed)).toHaveLength(1);
      expect(retry.lapsed).toEqual([]);
      const open = await offers.openOffers();
      for (const s of open.suppliers) expect(s.commitments).toHaveLength(1);
      expect(open.customers.map((c) => c.offerId)).toEqual([declined.customerOffer]);
      expect(open.customers[0]!.openWindows).toEqual([{ start: declined.start, end: declined.end }]);
    });
  });
}
