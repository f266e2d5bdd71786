// Offer statuses and reputations (issue 17) on the local DynamoDB endpoint: a status lands on a
// recorded offer only and accumulates its allocations; concurrent records of one close count once.
import {
  type Address,
  type Bytes32,
  type CloseRecord,
  OfferState,
  SCHEMA_VERSION,
  type SupplierOffer,
} from "@surplus/core";
import { beforeAll, describe, expect, inject, it } from "vitest";
import {
  createTables,
  DynamoAllocatorRegistry,
  DynamoOfferStatuses,
  DynamoReputationLedger,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "../src/index.ts";

const client = dynamoDbClient(inject("dynamodbEndpoint"));
const names = tableNames(`view-${process.pid}-${Date.now().toString(36)}-`);
const db = documentClient(client);
const A = "0x00000000000000000000000000000000000000A1" as Address;
const B = "0x00000000000000000000000000000000000000B2" as Address;
const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Bytes32;

beforeAll(async () => {
  await createTables(client, names);
});

describe("DynamoOfferStatuses", () => {
  it("records a status on a recorded offer, keeps every round's allocations, and lists by account", async () => {
    const offer: SupplierOffer = {
      kind: "supplier",
      schemaVersion: SCHEMA_VERSION,
      account: B,
      nonce: 1n,
      capacityMips: 1_000,
      ramMb: 1_024,
      start: 1_000,
      end: 2_000,
      minPricePerMi: 1n,
      mediators: [A],
    };
    await new DynamoAllocatorRegistry(db, names).recordOffer({
      offerId: id(1),
      offer,
      envelope: "{}",
      recordedAtMs: 0,
    });
    const statuses = new DynamoOfferStatuses(db, names);
    const base = { offerId: id(1), account: B, kind: "supplier" as const, updatedAtMs: 1 };
    await statuses.recordStatuses([
      { ...base, state: OfferState.Matched, allocations: [id(10)] },
      // Never recorded: no status.
      { ...base, offerId: id(2), state: OfferState.Open, allocations: [] },
    ]);
    const again = { ...base, state: OfferState.Matched, allocations: [id(11)], updatedAtMs: 2 };
    expect(await statuses.recordStatuses([again])).toEqual([again]);
    // The same status again changes nothing: not rewritten, not to be published again.
    expect(await statuses.recordStatuses([{ ...again, updatedAtMs: 3 }])).toEqual([]);

    const mine = await statuses.statuses(B);
    expect(mine).toEqual([
      { ...base, state: OfferState.Matched, allocations: [id(10), id(11)], updatedAtMs: 2 },
    ]);
    expect(await statuses.statuses(A)).toEqual([]);
  });
});

describe("DynamoReputationLedger", () => {
  it("counts each close once, also when the bridge records it concurrently", async () => {
    const ledger = new DynamoReputationLedger(db, names);
    const close = (n: number, lost: boolean): CloseRecord => ({
      allocationId: id(100 + n),
      role: "supplier",
      ran: true,
      testsPassed: lost ? 0 : 1,
      testsFailed: lost ? 1 : 0,
      disputed: lost,
      mediationLost: lost,
      timedOut: false,
    });
    await Promise.all([ledger.recordClose(A, close(1, true)), ledger.recordClose(A, close(1, true))]);
    await ledger.recordClose(A, close(2, false));
    const rep = (await ledger.reputations()).get(A.toLowerCase() as Address)!;
    expect(rep).toMatchObject({
      allocationsRun: 2,
      testsPassed: 1,
      testsFailed: 1,
      mediationsLost: 1,
      disputes: 1,
    });
    expect(rep.recent.map((r) => r.allocationId)).toEqual([id(101), id(102)]);
  });
});
