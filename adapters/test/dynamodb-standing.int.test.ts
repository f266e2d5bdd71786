// The front door's DynamoDB registries (issue 16) on the local endpoint: a party's standing moves
// by compare-and-set (concurrent strikes all count), a refusal lands on the recorded offer only,
// and admission is what `admitted()` lists.
import { type Address, type Bytes32, SCHEMA_VERSION, type SupplierOffer } from "@surplus/core";
import { beforeAll, describe, expect, inject, it } from "vitest";
import {
  createTables,
  DynamoAllocatorRegistry,
  DynamoParticipants,
  DynamoStandingRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "../src/index.ts";

const client = dynamoDbClient(inject("dynamodbEndpoint"));
const names = tableNames(`standing-${process.pid}-${Date.now().toString(36)}-`);
const db = documentClient(client);
const standing = new DynamoStandingRegistry(db, names);
const participants = new DynamoParticipants(db, names);
const A = "0x00000000000000000000000000000000000000A1" as Address;
const B = "0x00000000000000000000000000000000000000B2" as Address;
const policy = { baseMs: 1_000, maxMs: 1_000_000, forgetAfterMs: 10_000_000 };

beforeAll(async () => {
  await createTables(client, names);
});

describe("DynamoStandingRegistry", () => {
  it("doubles the pause with each strike, and counts concurrent strikes each once", async () => {
    const first = await standing.recordStrike(A, 0, "lapsed", policy);
    expect(first).toMatchObject({ strikes: 1, pausedUntilMs: 1_000 });
    await Promise.all([1, 2, 3].map(() => standing.recordStrike(A, 100, "lapsed again", policy)));
    const all = await standing.standings([A, B]);
    // 4 strikes: 1 000 · 2^3 after the last one, at 100.
    expect(all.get(A)).toMatchObject({ strikes: 4, pausedUntilMs: 8_100, reason: "lapsed again" });
    expect(all.has(B)).toBe(false);
  });

  it("records a refusal on a recorded offer, and nothing for an offer never recorded", async () => {
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
    const recorded = `0x${"0a".repeat(32)}` as Bytes32;
    const stranger = `0x${"0b".repeat(32)}` as Bytes32;
    await new DynamoAllocatorRegistry(db, names).recordOffer({
      offerId: recorded,
      offer,
      envelope: "{}",
      recordedAtMs: 0,
    });
    const refusal = { offerId: recorded, account: B, atMs: 5, reason: "insufficient free balance" };
    await standing.refuseOffer(refusal);
    await standing.refuseOffer({ ...refusal, offerId: stranger });
    expect(await standing.refusalOf(recorded)).toEqual(refusal);
    expect(await standing.refusalOf(stranger)).toBeUndefined();
  });
});

describe("DynamoParticipants", () => {
  it("lists the admitted accounts (lower-cased) with their kinds, until expelled", async () => {
    await participants.admit(A, "supplier", 1);
    await participants.admit(A, "customer", 2);
    await participants.admit(B, "mediator", 3);
    // An account only seen through its offers (the offer round's bookkeeping) is not admitted.
    const admitted = await participants.admitted([A, B]);
    expect(admitted.get(A.toLowerCase())).toEqual(new Set(["supplier", "customer"]));
    expect(admitted.get(B.toLowerCase())).toEqual(new Set(["mediator"]));
    expect(admitted.has(B)).toBe(false);
    await participants.expel(B);
    expect((await participants.admitted([A, B])).has(B.toLowerCase())).toBe(false);
  });
});
