import { describe, expect, it } from "vitest";
import {
  type Address,
  type Allocation,
  closeOutcome,
  emptyReputation,
  type HistoryEntry,
  OfferState,
  type OpenCustomerOffer,
  type OpenSupplierOffer,
  type Reputation,
  requirementShortfall,
  roundStatuses,
  runAuction,
  type SupplierOffer,
  whyUnmatched,
  withClose,
} from "../src/index.ts";
import { account, auctionParams, id, offerMakers, T0 } from "./auction-fixtures.ts";

const MEDIATOR = account(9_000);
const OTHER_MEDIATOR = account(9_001);

const offers = offerMakers([MEDIATOR]);
const supplier = (o: Partial<SupplierOffer> = {}) => offers.supplier(o);
const customer = offers.customer;
const params = auctionParams;

const terms = (suppliers: Address[]): Allocation =>
  ({ customer: account(500), mediator: MEDIATOR, suppliers }) as unknown as Allocation;

/** The history of an allocation whose Supplier 1 (of 0, 1) was found faulty in mediation. */
const mediatedHistory: HistoryEntry[] = [
  { event: "AllocationOpened", args: {} },
  { event: "AllocationSigned", args: { suppliers: "3", customer: true, mediator: true } },
  { event: "AllocationRunning", args: { suppliers: "3" } },
  { event: "AllocationSettled", args: { matched: "1" } },
  { event: "MediationRequested", args: { suppliers: "2", disputed: "2" } },
  { event: "AllocationMediated", args: { faultySuppliers: "2", customerAtFault: false } },
  { event: "AllocationClosed", args: JSON.stringify({ reason: "1" }) },
];

describe("closeOutcome", () => {
  it("is undefined until the allocation closed", () => {
    expect(closeOutcome(id(1), terms([account(1)]), mediatedHistory.slice(0, 3))).toBeUndefined();
  });

  it("credits the matching Supplier and charges the faulty one a lost mediation", () => {
    const a = account(301);
    const b = account(302);
    const out = closeOutcome(id(1), terms([a, b]), mediatedHistory)!;
    const good = out.get(a.toLowerCase() as Address)!;
    const bad = out.get(b.toLowerCase() as Address)!;
    expect(good).toMatchObject({
      ran: true,
      testsPassed: 1,
      testsFailed: 0,
      disputed: false,
      mediationLost: false,
    });
    expect(bad).toMatchObject({
      ran: true,
      testsPassed: 0,
      testsFailed: 1,
      disputed: true,
      mediationLost: true,
    });
    expect(out.get(account(500).toLowerCase() as Address)).toMatchObject({
      role: "customer",
      mediationLost: false,
    });
  });

  it("counts a Supplier that never signed as a timeout when signing failed", () => {
    const a = account(303);
    const history: HistoryEntry[] = [
      { event: "AllocationSigned", args: { suppliers: "0", customer: true } },
      { event: "AllocationClosed", args: { reason: 4 } },
    ];
    const rep = withClose(
      emptyReputation(a),
      closeOutcome(id(2), terms([a]), history)!.get(a.toLowerCase() as Address)!,
    );
    expect(rep).toMatchObject({ allocationsRun: 0, timeouts: 1 });
  });

  it("counts one allocation once however often the bridge records it", () => {
    const a = account(304);
    const close = closeOutcome(id(3), terms([account(1), a]), mediatedHistory)!.get(
      a.toLowerCase() as Address,
    )!;
    const twice = withClose(withClose(emptyReputation(a), close), close);
    expect(twice).toMatchObject({ allocationsRun: 1, mediationsLost: 1, testsFailed: 1 });
  });
});

describe("reputation requirement", () => {
  const lostOne = (a: Address): Reputation => {
    const close = closeOutcome(id(4), terms([account(1), a]), mediatedHistory)!.get(
      a.toLowerCase() as Address,
    )!;
    return withClose(emptyReputation(a), close);
  };

  it("names the shortfall", () => {
    const req = { maxMediationsLost: 0, lastAllocations: 10 };
    expect(requirementShortfall(lostOne(account(305)), req)).toMatch(/lost 1 mediations in its last 1/);
    expect(requirementShortfall(undefined, req)).toBeUndefined();
    expect(requirementShortfall(undefined, { ...req, minAllocationsRun: 1 })).toMatch(/ran 0 allocations/);
  });

  it("changes the auction's choice: the cheapest Supplier lost a mediation, a demanding Customer takes the next", () => {
    const cheap = supplier({ minPricePerMi: 100n });
    const dear = supplier({ minPricePerMi: 150n });
    const book = new Map([[cheap.offer.account.toLowerCase(), lostOne(cheap.offer.account)]]);
    const reputation = { reputationOf: (a: Address) => book.get(a.toLowerCase()) };
    const relaxed = customer();
    const demanding = customer({}, { requires: { maxMediationsLost: 0, lastAllocations: 10 } });

    const r1 = runAuction({ customers: [relaxed], suppliers: [cheap, dear], params: params({ reputation }) });
    const r2 = runAuction({
      customers: [demanding],
      suppliers: [cheap, dear],
      params: params({ reputation }),
    });

    expect(r1.allocations[0]!.supplierOfferIds).toEqual([cheap.id]);
    expect(r2.allocations[0]!.supplierOfferIds).toEqual([dear.id]);
  });

  it("leaves the offer open when only short Suppliers fit, and the status says so", () => {
    const cheap = supplier();
    const book = new Map([[cheap.offer.account.toLowerCase(), lostOne(cheap.offer.account)]]);
    const c = customer({}, { requires: { maxMediationsLost: 0, lastAllocations: 10 } });
    const input = {
      customers: [c],
      suppliers: [cheap],
      params: params({ reputation: { reputationOf: (a: Address) => book.get(a.toLowerCase()) } }),
    };

    const result = runAuction(input);
    const status = roundStatuses(input, result, new Map()).get(c.id)!;

    expect(result.allocations).toHaveLength(0);
    expect(status.state).toBe(OfferState.Open);
    expect(status.reason).toMatch(/^reputation: every Supplier that fits falls short/);
  });
});

describe("whyUnmatched", () => {
  const reasonFor = (c: OpenCustomerOffer, suppliers: OpenSupplierOffer[]) => {
    const input = { customers: [c], suppliers, params: params() };
    expect(runAuction(input).allocations).toHaveLength(0);
    return whyUnmatched(input, c);
  };

  it("no Supplier under a Mediator it trusts", () => {
    expect(reasonFor(customer(), [supplier({ mediators: [OTHER_MEDIATOR] })])).toBe(
      "no Supplier under a Mediator it trusts",
    );
  });
  it("not enough CPU or memory", () => {
    expect(reasonFor(customer({ ramMb: 8_192 }), [supplier()])).toMatch(
      /^not enough CPU or memory: a replica needs 1000 MIPS and 8192 MB/,
    );
  });
  it("no Supplier available for δ_min within the window", () => {
    expect(reasonFor(customer(), [supplier({ end: T0 + 300 })])).toMatch(/available for δ_min \(600 s\)/);
  });
  it("bid below every ask that fits", () => {
    expect(
      reasonFor(customer({ maxPricePerMi: 90n }), [
        supplier({ minPricePerMi: 120n }),
        supplier({ minPricePerMi: 50n, ramMb: 10 }),
      ]),
    ).toBe("bid 90 per MI below every ask that fits (the cheapest is 120)");
  });
  it("fewer Suppliers than r_min", () => {
    expect(reasonFor(customer({ replicas: 3, minReplicas: 2 }), [supplier()])).toMatch(
      /only 1 Suppliers fit .* r_min = 2/,
    );
  });
  it("window shorter than δ_min once the delays are taken off", () => {
    const c = customer({ start: T0, end: T0 + 600 });
    const input = { customers: [c], suppliers: [supplier()], params: params({ nowSeconds: T0 }) };
    expect(whyUnmatched(input, c)).toMatch(/^window shorter than δ_min: 590 s/);
  });
  it("taken by a higher bid", () => {
    const s = supplier();
    const high = customer({ maxPricePerMi: 300n, miPerInput: 400 });
    const low = customer({ miPerInput: 400 });
    const input = { customers: [high, low], suppliers: [s], params: params() };
    const result = runAuction(input);
    const statuses = roundStatuses(input, result, new Map([[high.id, [id(77)]]]));
    expect(statuses.get(high.id)!.state).toBe(OfferState.Matched);
    expect(statuses.get(low.id)!.reason).toMatch(/taken by other allocations/);
  });
});
