// DynamoAllocatorRegistry against the local DynamoDB endpoint (moto's server, localstack/src/dynamodb.ts):
// the conditions that make double allocation impossible, checked on a DynamoDB API with real
// conditional writes and transactions. The last cases pin down what the registries need from the
// endpoint where moto could differ from DynamoDB: all-or-nothing transactions, one winner among
// concurrent conditional commits, the 100-item transaction limit, and TTL (configured; moto never
// deletes expired items, so nothing here may depend on expiry).
import {
  DescribeTimeToLiveCommand,
  paginateListTables,
  TransactWriteItemsCommand,
} from "@aws-sdk/client-dynamodb";
import {
  type Address,
  type Allocation,
  type Bytes32,
  type CustomerCommit,
  type CustomerOffer,
  SCHEMA_VERSION,
  type SupplierOffer,
} from "@surplus/core";
import { beforeAll, describe, expect, inject, it } from "vitest";
import {
  createTables,
  DynamoAllocatorRegistry,
  documentClient,
  dynamoDbClient,
  IDEMPOTENCY_TTL_ATTRIBUTE,
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

const customer: CustomerOffer = {
  kind: "customer",
  schemaVersion: SCHEMA_VERSION,
  account: "0x00000000000000000000000000000000000000C1" as Address,
  nonce: 1n,
  serviceName: "people-counter",
  serviceHash: `0x${"ab".repeat(32)}` as Bytes32,
  miPerInput: 100,
  ramMb: 512,
  inputsPerSecond: 10,
  start: 100,
  end: 200,
  maxPricePerMi: 10n,
  replicas: 1,
  minReplicas: 1,
  minServiceSeconds: 50,
  mediators: ["0x00000000000000000000000000000000000000b2" as Address],
};
const allocationOf = (customerOffer: Bytes32, supplierOffer: Bytes32, nonce: bigint): Allocation => ({
  schemaVersion: SCHEMA_VERSION,
  allocator: "0x00000000000000000000000000000000000000A0" as Address,
  customer: customer.account,
  suppliers: [supplier.account],
  mediator: customer.mediators[0]!,
  customerOffer,
  supplierOffers: [supplierOffer],
  serviceHash: customer.serviceHash,
  start: 100,
  end: 200,
  pricePerMi: 7n,
  miPerInput: customer.miPerInput,
  inputsPerSecond: customer.inputsPerSecond,
  testCount: 3,
  minReplicas: 1,
  nonce,
});
/** One Customer offer's commit taking `supplierOffer` at `version`, with one allocation `allocationId`. */
const commitOf = (
  customerOffer: Bytes32,
  supplierOffer: Bytes32,
  version: number,
  allocationId: Bytes32,
): CustomerCommit => ({
  customer: { offerId: customerOffer, expectedVersion: 0, openWindows: [], closed: true },
  suppliers: [
    {
      offerId: supplierOffer,
      expectedVersion: version,
      commitments: [{ start: 100, end: 200, mips: 1_000, ramMb: 512 }],
    },
  ],
  allocations: [{ allocationId, allocation: allocationOf(customerOffer, supplierOffer, BigInt(version)) }],
});
const versionOf = async (offerId: Bytes32) => {
  const open = await registry.openOffers();
  return [...open.customers, ...open.suppliers].find((o) => o.offerId === offerId)?.version;
};

beforeAll(async () => {
  await createTables(client, names);
});

describe("DynamoAllocatorRegistry", () => {
  it("creates its tables idempotently", async () => {
    await createTables(client, names);

    // Every page: other test files share this endpoint and may have made over 100 tables.
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

  it("rolls back every item of a cancelled commit, also those written before the failing one", async () => {
    await registry.recordOffer({ offerId: id(10), offer: customer, envelope: "{}", recordedAtMs: 1 });
    await registry.recordOffer({ offerId: id(11), offer: supplier, envelope: "{}", recordedAtMs: 1 });
    await registry.recordOffer({
      offerId: id(12),
      offer: { ...customer, nonce: 2n },
      envelope: "{}",
      recordedAtMs: 1,
    });
    await registry.recordOffer({
      offerId: id(13),
      offer: { ...supplier, nonce: 2n },
      envelope: "{}",
      recordedAtMs: 1,
    });
    expect(await registry.commit(commitOf(id(10), id(11), 0, id(100)))).toBe(true);

    // The offers' updates come first and would land; the allocation put last fails (id 100 exists).
    expect(await registry.commit(commitOf(id(12), id(13), 0, id(100)))).toBe(false);
    expect(await versionOf(id(12))).toBe(0);
    expect(await versionOf(id(13))).toBe(0);
    expect((await registry.allocation(id(100)))?.customerOffer).toBe(id(10));
    expect((await registry.pending()).filter((p) => p.kind === "allocation")).toHaveLength(1);
  });

  it("lets exactly one of concurrent commits on the same Supplier offer version land", async () => {
    const supplierId = id(20);
    await registry.recordOffer({
      offerId: supplierId,
      offer: { ...supplier, nonce: 3n },
      envelope: "{}",
      recordedAtMs: 1,
    });
    const customers = Array.from({ length: 8 }, (_, k) => id(21 + k));
    for (const [k, c] of customers.entries())
      await registry.recordOffer({
        offerId: c,
        offer: { ...customer, nonce: BigInt(10 + k) },
        envelope: "{}",
        recordedAtMs: 1,
      });

    const landed = await Promise.all(
      customers.map((c, k) => registry.commit(commitOf(c, supplierId, 0, id(200 + k)))),
    );

    expect(landed.filter(Boolean)).toHaveLength(1);
    expect(await versionOf(supplierId)).toBe(1);
    const allocated = await Promise.all(customers.map((_, k) => registry.allocation(id(200 + k))));
    expect(allocated.filter(Boolean)).toHaveLength(1);
  });

  it("is held to DynamoDB's 100-item transaction limit, and records 150 offers in chunks under it", async () => {
    const put = (k: number) => ({
      Put: { TableName: names.cursors, Item: { name: { S: `limit-${k}` }, position: { S: "0" } } },
    });
    await expect(
      client.send(
        new TransactWriteItemsCommand({ TransactItems: Array.from({ length: 101 }, (_, k) => put(k)) }),
      ),
    ).rejects.toThrow();

    const many = Array.from({ length: 150 }, (_, k) => ({
      offerId: id(1_000 + k),
      offer: { ...supplier, nonce: BigInt(1_000 + k) },
      envelope: "{}",
      recordedAtMs: 1,
    }));
    expect((await registry.recordOffers(many)).every(Boolean)).toBe(true);
    expect((await registry.recordOffers(many)).some(Boolean)).toBe(false);
  });

  it("enables TTL on the idempotency table's expiration attribute", async () => {
    // DynamoDB deletes expired items within days; moto never does. Neither matters: Powertools
    // compares a record's expiration with the clock itself, and the bridge never replays an event
    // from before its cursor, let alone one whose 30-day marker expired.
    const { TimeToLiveDescription } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: names.idempotency }),
    );
    expect(TimeToLiveDescription).toMatchObject({
      TimeToLiveStatus: "ENABLED",
      AttributeName: IDEMPOTENCY_TTL_ATTRIBUTE,
    });
  });
});
