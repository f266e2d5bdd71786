// Offer status for its sender (issue 17), as one Allocator round records it: every recorded offer
// gets a status; a Customer offer left unmatched says why; only statuses that changed are
// published; a Customer's reputation requirement steers its match away from a Supplier that lost
// a mediation.
import {
  type Address,
  type Bytes32,
  closeOutcome,
  emptyReputation,
  OfferState,
  type OfferStatus,
  type OfferStatusRegistry,
  type Reputation,
  withClose,
} from "@surplus/core";
import { describe, expect, it } from "vitest";
import { runAllocatorRound } from "../src/allocator/offer-round.ts";
import {
  config,
  customerBody,
  MemoryOfferSource,
  MemoryPublisher,
  NOW_MS,
  signedOffer,
  supplierBody,
  wallet,
} from "./support/allocator-scenario.ts";
import { MemoryAllocatorRegistry } from "./support/memory-allocator-registry.ts";

/** Keeps the last status per offer, as the DynamoDB registry does; says which changed. */
class MemoryStatuses implements OfferStatusRegistry {
  readonly byOffer = new Map<Bytes32, OfferStatus>();
  async recordStatuses(statuses: readonly OfferStatus[]): Promise<OfferStatus[]> {
    const changed = statuses.filter((s) => {
      const old = this.byOffer.get(s.offerId);
      return (
        !old ||
        old.state !== s.state ||
        old.reason !== s.reason ||
        old.allocations.join() !== s.allocations.join()
      );
    });
    for (const s of changed) this.byOffer.set(s.offerId, s);
    return changed;
  }
  async statuses(): Promise<OfferStatus[]> {
    return [...this.byOffer.values()];
  }
}

const account = (i: number) => wallet(i).address as Address;
const byAccount = (statuses: MemoryStatuses, i: number) =>
  [...statuses.byOffer.values()].filter((s) => s.account === account(i));

describe("offer statuses of a round", () => {
  it("gives every recorded offer a status, with the auction's reason when it is left unmatched", async () => {
    const source = new MemoryOfferSource();
    source.append(await signedOffer(0, supplierBody(0)));
    source.append(await signedOffer(10, customerBody(10)));
    source.append(await signedOffer(11, customerBody(11, { maxPricePerMi: 50n })));
    source.append(await signedOffer(12, customerBody(12, { mediators: [account(77)] })));
    source.append(await signedOffer(13, customerBody(13, { ramMb: 100_000 })));
    const statuses = new MemoryStatuses();
    const published: OfferStatus[][] = [];
    const deps = {
      source,
      registry: new MemoryAllocatorRegistry(),
      publisher: new MemoryPublisher(),
      statuses,
      statusChannel: { publish: async (s: readonly OfferStatus[]) => void published.push([...s]) },
    };

    const report = await runAllocatorRound(deps, config, NOW_MS);

    expect(report.recorded).toBe(5);
    expect(statuses.byOffer.size).toBe(5);
    const matched = byAccount(statuses, 10)[0]!;
    expect(matched).toMatchObject({ state: OfferState.Matched, kind: "customer" });
    expect(matched.allocations).toHaveLength(1);
    expect(byAccount(statuses, 0)[0]).toMatchObject({
      state: OfferState.Matched,
      allocations: matched.allocations,
    });
    expect(byAccount(statuses, 11)[0]).toMatchObject({
      state: OfferState.Open,
      reason: "bid 50 per MI below every ask that fits (the cheapest is 100)",
    });
    expect(byAccount(statuses, 12)[0]).toMatchObject({
      state: OfferState.Open,
      reason: "no Supplier under a Mediator it trusts",
    });
    expect(byAccount(statuses, 13)[0]!.reason).toMatch(/^not enough CPU or memory/);
    expect(published.flat()).toHaveLength(5);

    // Nothing changed: nothing is published again.
    await runAllocatorRound(deps, config, NOW_MS + 1_000);
    expect(published.flat()).toHaveLength(5);
  });

  it("a status channel that cannot be reached fails no round: the statuses stay recorded, counted as unpublished", async () => {
    const source = new MemoryOfferSource();
    source.append(await signedOffer(0, supplierBody(0)));
    source.append(await signedOffer(10, customerBody(10)));
    const statuses = new MemoryStatuses();
    const deps = {
      source,
      registry: new MemoryAllocatorRegistry(),
      publisher: new MemoryPublisher(),
      statuses,
      // A participant admitted without its status channel: the broker has no such topic.
      statusChannel: {
        publish: async () => {
          throw new Error("Pulsar has no persistent://market/public/status-0x…");
        },
      },
    };

    const report = await runAllocatorRound(deps, config, NOW_MS);

    expect(report).toMatchObject({ recorded: 2, allocations: 1, published: 1, statusesUnpublished: 2 });
    expect(report.statusError).toMatch(/has no persistent/);
    expect(statuses.byOffer.size).toBe(2);
  });

  it("honours a Customer's reputation requirement: the Supplier that lost a mediation is passed over", async () => {
    const run = async (requires: boolean) => {
      const source = new MemoryOfferSource();
      source.append(await signedOffer(0, supplierBody(0, { minPricePerMi: 100n })));
      source.append(await signedOffer(1, supplierBody(1, { minPricePerMi: 150n })));
      source.append(await signedOffer(10, customerBody(10, { replicas: 1 })));
      const cheap = account(0).toLowerCase() as Address;
      const history = [
        { event: "AllocationRunning", args: { suppliers: "1" } },
        { event: "AllocationSettled", args: { matched: "0" } },
        { event: "AllocationMediated", args: { faultySuppliers: "1", customerAtFault: false } },
        { event: "AllocationClosed", args: { reason: "1" } },
      ];
      const terms = { customer: account(50), mediator: account(51), suppliers: [cheap] };
      const lost = withClose(
        emptyReputation(cheap),
        closeOutcome(`0x${"99".repeat(32)}`, terms as never, history)!.get(cheap)!,
      );
      const publisher = new MemoryPublisher();
      const statuses = new MemoryStatuses();
      await runAllocatorRound(
        {
          source,
          registry: new MemoryAllocatorRegistry(),
          publisher,
          statuses,
          reputation: { reputations: async () => new Map<Address, Reputation>([[cheap, lost]]) },
          ...(requires ? { requirementOf: () => ({ maxMediationsLost: 0, lastAllocations: 20 }) } : {}),
        },
        config,
        NOW_MS,
      );
      return [...publisher.allocations.values()].map((a) => a.suppliers);
    };

    expect(await run(false)).toEqual([[account(0)]]);
    expect(await run(true)).toEqual([[account(1)]]);
  });
});
