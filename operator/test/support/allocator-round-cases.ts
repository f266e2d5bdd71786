// The allocator round's behaviour, shared by the unit tests (in-memory registry) and the
// integration tests (DynamoDB on moto): both registries must give the same guarantees.
import { type Allocation, type AllocatorRegistry, type Bytes32, checkRound } from "@surplus/core";
import { describe, expect, it } from "vitest";
import { runAllocatorRound } from "../../src/allocator/offer-round.ts";
import {
  config,
  customerBody,
  MemoryOfferSource,
  MemoryPublisher,
  NOW_MS,
  signedOffer,
  supplierBody,
} from "./allocator-scenario.ts";

async function market(source: MemoryOfferSource) {
  // Three Suppliers with room for two replicas of 1 000 MIPS each, four Customers wanting two replicas.
  for (let i = 0; i < 3; i++)
    source.append(await signedOffer(i, supplierBody(i, { minPricePerMi: BigInt(100 + i) })));
  for (let i = 10; i < 14; i++)
    source.append(await signedOffer(i, customerBody(i, { maxPricePerMi: BigInt(150 + i) })));
}

/** No Supplier offer hosts more replicas at once than fit, and no two allocations serve the same part of a Customer offer. */
function assertNoDoubleAllocation(allocations: readonly Allocation[]) {
  const byCustomer = new Map<Bytes32, Allocation[]>();
  for (const a of allocations)
    byCustomer.set(a.customerOffer, [...(byCustomer.get(a.customerOffer) ?? []), a]);
  for (const list of byCustomer.values()) {
    const sorted = [...list].sort((x, y) => x.start - y.start);
    for (let i = 1; i < sorted.length; i++)
      expect(sorted[i]!.start).toBeGreaterThanOrEqual(sorted[i - 1]!.end);
  }
  const perSupplier = new Map<Bytes32, number>();
  for (const a of allocations)
    for (const s of a.supplierOffers) perSupplier.set(s, (perSupplier.get(s) ?? 0) + 1);
  // Each Supplier has 4 000 MIPS and every replica needs 1 000 over the same hour.
  for (const n of perSupplier.values()) expect(n).toBeLessThanOrEqual(4);
}

export function allocatorRoundCases(makeRegistry: () => Promise<AllocatorRegistry>) {
  describe("runAllocatorRound", () => {
    it("records verified offers, allocates them and publishes the allocations", async () => {
      const registry = await makeRegistry();
      const source = new MemoryOfferSource();
      await market(source);
      const tampered = structuredClone(source.messages[0]!.payload) as { body: { capacityMips: number } };
      tampered.body.capacityMips = 999_999;
      source.append(tampered);
      const publisher = new MemoryPublisher();

      const report = await runAllocatorRound({ source, registry, publisher }, config, NOW_MS);

      expect(report).toMatchObject({ read: 8, recorded: 7, conflicts: 0 });
      expect(report.rejected).toHaveLength(1);
      expect(report.allocations).toBe(4);
      expect(publisher.allocations.size).toBe(4);
      for (const a of publisher.allocations.values()) expect(a.suppliers).toHaveLength(2);
      assertNoDoubleAllocation([...publisher.allocations.values()]);
      expect(await registry.cursor("offers")).toBe(source.messages.at(-1)!.position);
    });

    it("commits the Customer offers that share Supplier offers in one transaction", async () => {
      const registry = await makeRegistry();
      const source = new MemoryOfferSource();
      await market(source);
      const groups: number[] = [];
      const counting = new Proxy(registry, {
        get(target, key) {
          const value = Reflect.get(target, key, target);
          if (key !== "commitGroup") return typeof value === "function" ? value.bind(target) : value;
          return (g: Parameters<AllocatorRegistry["commitGroup"]>[0]) => {
            groups.push(g.customers.length);
            return target.commitGroup(g);
          };
        },
      });

      const report = await runAllocatorRound(
        { source, registry: counting, publisher: new MemoryPublisher() },
        config,
        NOW_MS,
      );

      // Three Suppliers host the four Customers' replicas: every share is linked to another.
      expect(report.allocations).toBe(4);
      expect(groups).toEqual([4]);
    });

    it("records a replayed offer once, in the same batch and in a later one", async () => {
      const registry = await makeRegistry();
      const source = new MemoryOfferSource();
      await market(source);
      source.append(source.messages[0]!.payload);
      source.append(source.messages[4]!.payload);
      const publisher = new MemoryPublisher();

      const report = await runAllocatorRound(
        { source, registry, publisher },
        { ...config, batchSize: 100 },
        NOW_MS,
      );
      source.append(source.messages[1]!.payload);
      const again = await runAllocatorRound({ source, registry, publisher }, config, NOW_MS);

      expect(report).toMatchObject({ read: 9, recorded: 7, rejected: [], allocations: 4 });
      expect(again).toMatchObject({ read: 1, recorded: 0, rejected: [], allocations: 0 });
    });

    it("allocates nothing twice when the round is retried", async () => {
      const registry = await makeRegistry();
      const source = new MemoryOfferSource();
      await market(source);
      const publisher = new MemoryPublisher();
      await runAllocatorRound({ source, registry, publisher }, config, NOW_MS);

      const again = await runAllocatorRound({ source, registry, publisher }, config, NOW_MS);

      expect(again).toMatchObject({ read: 0, allocations: 0, published: 0 });
      expect(publisher.allocations.size).toBe(4);
    });

    it("publishes after a crash between commit and publish", async () => {
      const registry = await makeRegistry();
      const source = new MemoryOfferSource();
      await market(source);
      const publisher = new MemoryPublisher();
      const failing = new MemoryPublisher();
      failing.publishAllocation = async () => {
        throw new Error("allocations channel unavailable");
      };
      await expect(
        runAllocatorRound({ source, registry, publisher: failing }, config, NOW_MS),
      ).rejects.toThrow("unavailable");

      const retry = await runAllocatorRound({ source, registry, publisher }, config, NOW_MS);

      expect(retry.allocations).toBe(0);
      expect(retry.published).toBe(4);
      expect(publisher.allocations.size).toBe(4);
    });

    it("never allocates an offer twice when rounds run concurrently", async () => {
      const registry = await makeRegistry();
      const source = new MemoryOfferSource();
      await market(source);
      const publisher = new MemoryPublisher();

      const reports = await Promise.all([
        runAllocatorRound({ source, registry, publisher }, config, NOW_MS),
        runAllocatorRound({ source, registry, publisher }, config, NOW_MS),
        runAllocatorRound({ source, registry, publisher }, config, NOW_MS),
      ]);

      const all = [...publisher.allocations.values()];
      assertNoDoubleAllocation(all);
      expect(reports.reduce((n, r) => n + r.allocations, 0)).toBe(all.length);
      // Whatever a losing round left open is allocated by the next one.
      await runAllocatorRound({ source, registry, publisher }, config, NOW_MS);
      expect(publisher.allocations.size).toBe(4);
      assertNoDoubleAllocation([...publisher.allocations.values()]);
    });

    it("publishes a void allocation for an offer that expires unmatched", async () => {
      const registry = await makeRegistry();
      const source = new MemoryOfferSource();
      source.append(await signedOffer(20, customerBody(20)));
      const publisher = new MemoryPublisher();
      await runAllocatorRound({ source, registry, publisher }, config, NOW_MS);
      expect(publisher.voids).toEqual([]);

      const late = await runAllocatorRound({ source, registry, publisher }, config, NOW_MS + 3_600_000);

      expect(late.voids).toBe(1);
      expect(publisher.voids).toEqual([
        expect.objectContaining({ reason: "expired", account: customerBody(20).account }),
      ]);
    });

    it("keeps Supplier capacity across rounds", async () => {
      const registry = await makeRegistry();
      const source = new MemoryOfferSource();
      source.append(await signedOffer(0, supplierBody(0, { capacityMips: 2_500 })));
      source.append(await signedOffer(10, customerBody(10, { replicas: 1 })));
      source.append(await signedOffer(11, customerBody(11, { replicas: 1 })));
      const publisher = new MemoryPublisher();
      await runAllocatorRound({ source, registry, publisher }, config, NOW_MS);
      source.append(await signedOffer(12, customerBody(12, { replicas: 1 })));

      await runAllocatorRound({ source, registry, publisher }, config, NOW_MS);

      expect(publisher.allocations.size).toBe(2);
      const open = await registry.openOffers();
      const input = {
        customers: [],
        suppliers: open.suppliers.map((s) => ({ id: s.offerId, offer: s.offer, commitments: s.commitments })),
        params: { allocator: config.allocator, nowSeconds: NOW_MS / 1000, penaltyRate: 1_000n },
      };
      expect(checkRound(input, { allocations: [], voids: [], customers: [], welfare: 0n })).toEqual([]);
      expect(open.suppliers[0]!.commitments).toHaveLength(2);
    });
  });
}
