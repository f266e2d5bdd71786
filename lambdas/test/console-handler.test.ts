// The deployed console's API (lambdas/console/handler.ts): GET /api/market answers the page's shape
// from the registries' read model; anything else is refused (read-only).
import type { Address, Allocation, Bytes32, OfferStatus, Reputation } from "@surplus/core";
import { describe, expect, it } from "vitest";
import { consoleApi } from "../console/handler.ts";

const customer = `0x${"c1".repeat(20)}` as Address;
const supplier = `0x${"5a".repeat(20)}` as Address;
const mediator = `0x${"3e".repeat(20)}` as Address;
const id = `0x${"a1".repeat(32)}` as Bytes32;
const terms = {
  customer,
  suppliers: [supplier],
  mediator,
  pricePerMi: 120n,
  testCount: 3,
} as unknown as Allocation;
const statuses: OfferStatus[] = [
  {
    offerId: `0x${"01".repeat(32)}` as Bytes32,
    account: customer,
    kind: "customer",
    state: "matched" as never,
    allocations: [id],
    updatedAtMs: 1,
  },
  {
    offerId: `0x${"02".repeat(32)}` as Bytes32,
    account: supplier,
    kind: "supplier",
    state: "rejected" as never,
    reason: "not admitted",
    allocations: [],
    updatedAtMs: 2,
  },
];
const reputation = {
  account: supplier,
  allocationsRun: 1,
  testsPassed: 0,
  testsFailed: 1,
  disputes: 1,
  mediationsLost: 1,
  disputesLost: 0,
  timeouts: 0,
  recent: [],
} as Reputation;

const api = consoleApi(
  {
    statuses: { statuses: async () => statuses },
    reputations: { reputations: async () => new Map([[supplier, reputation]]) },
    mirror: {
      chainStateOf: async () => ({
        state: "Closed",
        history: [
          { event: "AllocationSettled", blockNumber: 7, timestamp: 100, args: { matched: "0" } },
          {
            event: "AllocationClosed",
            blockNumber: 9,
            timestamp: 110,
            args: { reason: "1", supplierPayouts: ["0"], customerPayout: "5" },
          },
        ],
      }),
    },
    terms: async (x) => (x === id ? terms : undefined),
    balances: { freeBalances: async (accounts) => new Map(accounts.map((a) => [a, 42n])) },
  },
  "0xmarket",
);

describe("the deployed console's API", () => {
  it("answers GET /api/market with offers, allocations and participants", async () => {
    const r = await api({ rawPath: "/api/market", requestContext: { http: { method: "GET" } } });
    expect(r.statusCode).toBe(200);
    const body = JSON.parse(r.body);
    expect(body.market).toBe("0xmarket");
    expect(body.offers.map((o: OfferStatus) => [o.state, o.reason ?? ""])).toEqual([
      ["matched", ""],
      ["rejected", "not admitted"],
    ]);
    expect(body.allocations).toHaveLength(1);
    expect(body.allocations[0]).toMatchObject({
      id,
      state: "Closed",
      closeReason: "mediated",
      verification: `${supplier}: seal did not match`,
    });
    expect(body.allocations[0].timeline.map((h: { event: string }) => h.event)).toEqual([
      "AllocationSettled",
      "AllocationClosed",
    ]);
    const s = body.participants.find((p: { address: string }) => p.address === supplier);
    expect(s).toMatchObject({ kind: "supplier", balance: "42", reputation: { mediationsLost: 1 } });
  });

  it("refuses anything but reading", async () => {
    expect(
      (await api({ rawPath: "/api/market", requestContext: { http: { method: "POST" } } })).statusCode,
    ).toBe(405);
    expect(
      (await api({ rawPath: "/api/other", requestContext: { http: { method: "GET" } } })).statusCode,
    ).toBe(404);
  });
});
