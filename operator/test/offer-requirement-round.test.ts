// The reputation requirement a Customer signs into its offer (issue 17) steers an Allocator round:
// with it the Supplier that lost a mediation is passed over, and when no other Supplier fits the
// offer's status names the requirement as why it waits.
import {
  type Address,
  closeOutcome,
  emptyReputation,
  OfferState,
  type OfferStatus,
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

const account = (i: number) => wallet(i).address as Address;
const demanding = { windowAllocations: 20, maxMediationsLost: 0 };

/** Supplier 0's reputation: one allocation, whose mediation it lost. */
function lostOne(): Map<Address, Reputation> {
  const cheap = account(0).toLowerCase() as Address;
  const history = [
    { event: "AllocationRunning", args: { suppliers: "1" } },
    { event: "AllocationSettled", args: { matched: "0" } },
    { event: "AllocationMediated", args: { faultySuppliers: "1", customerAtFault: false } },
    { event: "AllocationClosed", args: { reason: "1" } },
  ];
  const terms = { customer: account(50), mediator: account(51), suppliers: [cheap] };
  const outcome = closeOutcome(`0x${"99".repeat(32)}`, terms as never, history)!.get(cheap)!;
  return new Map([[cheap, withClose(emptyReputation(cheap), outcome)]]);
}

async function round(suppliers: number[], requirement: object) {
  const source = new MemoryOfferSource();
  for (const i of suppliers)
    source.append(await signedOffer(i, supplierBody(i, { minPricePerMi: 100n + 50n * BigInt(i) })));
  source.append(await signedOffer(10, customerBody(10, { replicas: 1, ...requirement })));
  const publisher = new MemoryPublisher();
  const statuses: OfferStatus[] = [];
  await runAllocatorRound(
    {
      source,
      registry: new MemoryAllocatorRegistry(),
      publisher,
      statuses: {
        recordStatuses: async (s: readonly OfferStatus[]) => {
          statuses.push(...s);
          return [...s];
        },
        statuses: async () => statuses,
      },
      reputation: { reputations: async () => lostOne() },
    },
    config,
    NOW_MS,
  );
  return {
    suppliers: [...publisher.allocations.values()].map((a) => a.suppliers),
    customer: statuses.find((s) => s.account === account(10)),
  };
}

describe("a reputation requirement signed into the Customer offer", () => {
  it("changes the auction's choice: the Supplier that lost a mediation is passed over", async () => {
    expect((await round([0, 1], {})).suppliers).toEqual([[account(0)]]);
    expect((await round([0, 1], demanding)).suppliers).toEqual([[account(1)]]);
  });

  it("is named in the offer's status when it is why the offer waits", async () => {
    const relaxed = await round([0], {});
    expect(relaxed.customer).toMatchObject({ state: OfferState.Matched });
    const strict = await round([0], demanding);
    expect(strict.suppliers).toEqual([]);
    expect(strict.customer).toMatchObject({ state: OfferState.Open });
    expect(strict.customer!.reason).toMatch(
      /^reputation: every Supplier that fits falls short .*lost 1 mediations/,
    );
  });
});
