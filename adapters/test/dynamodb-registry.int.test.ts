// DynamoAllocatorRegistry against DynamoDB Local: the conditions that make double allocation
// impossible, checked on the real service.
import { paginateListTables } from "@aws-sdk/client-dynamodb";
import {
  type Address,
  type Bytes32,
  type CustomerCommit,
  SCHEMA_VERSION,
  type SupplierOffer,
} from "@surplus/core";
import { beforeAll, describe, expect, inject, it } from "vitest";
import {
  createTables,
  DynamoAllocatorRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "../src/index.ts";

const client = dynamoDbClient(inject("dynamodbEndpoint"));
const names = tableNames(`registry-${process.pid}-`);
const registry = new DynamoAllocatorRegistry(documentClient(client), names);
const id = (n: number) => `0x${n.toString(16).padStart(64, "0")}` as Bytes32;
const supplier: SupplierOffer = {
  kind: "supplier",
  schemaVersion: SCHEMA_VERSION,
  account: "0x00000000000000000000000000000000000000A1" as Address,
  nonce: 1n,
  capacityMips: 1_000,
  ramMb: 1_024,
  start: 100,
  end: 200,
  minPricePerMi: 5n,
  mediators: ["0x00000000000000000000000000000000000000b2" as Address],
};

beforeAll(async () => {
  await createTables(client, names);
});

describe("DynamoAllocatorRegistry", () => {
  it("creates its tables idempotently", async () => {
    await createTables(client, names);

    // Every page: other test files share this DynamoDB Local and may have made over 100 tables.
    const tables: string[] = [];
    for await (const page of paginateListTables({ client }, {})) tables.push(...(page.TableNames ?? []));
    expect(tables).toEqual(expect.arrayContaining(Object.values(names)));
  });

  it("records an offer once", async () => {
    const record = { offerId: id(1), offer: supplier, envelope: "{}", recordedAtMs: 1 };

    expect(await registry.recordOffer(record)).toBe(true);
    expect(await registry.recordOffer(record)).toBe(false);
    const open = await registry.openOffers();
    expect(open.suppliers.find((s) => s.offerId === id(1))).toMatchObject({ version: 0, commitments: [] });
  });

  it("cancels a whole commit when one offer changed since it was read", async () => {
    await registry.recordOffer({ offerId: id(2), offer: supplier, envelope: "{}", recordedAtMs: 1 });
    const commit = (version: number): CustomerCommit => ({
      // The Customer offer id is not recorded: its condition fails, so nothing may be written.
      customer: { offerId: id(99), expectedVersion: 0, openWindows: [], closed: true },
      suppliers: [{ offerId: id(2), expectedVersion: version, commitments: [] }],
      allocations: [],
    });

    expect(await registry.commit(commit(0))).toBe(false);
    const open = await registry.openOffers();
    expect(open.suppliers.find((s) => s.offerId === id(2))?.version).toBe(0);
  });

  it("moves a cursor only from the position it expects", async () => {
    expect(await registry.advanceCursor("c", undefined, "a")).toBe(true);
    expect(await registry.advanceCursor("c", undefined, "b")).toBe(false);
    expect(await registry.advanceCursor("c", "a", "b")).toBe(true);
    expect(await registry.advanceCursor("c", "a", "c")).toBe(false);
    expect(await registry.cursor("c")).toBe("b");
  });
});
