// The scheduled functions' lease on DynamoDB (moto): one holder at a time, its own renewal, a
// dead holder's lease taken once its deadline passed, and release by its holder only.
import {
  createTables,
  DynamoLease,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import { beforeAll, describe, expect, inject, it } from "vitest";

const names = tableNames(`lease-${process.pid}-${Date.now().toString(36)}-`);
let lease: DynamoLease;

beforeAll(async () => {
  const client = dynamoDbClient(inject("dynamodbEndpoint"));
  await createTables(client, names);
  lease = new DynamoLease(documentClient(client), names, "allocator");
}, 60_000);

describe("DynamoLease", () => {
  it("admits one holder until its deadline, then the next; only the holder releases it", async () => {
    const t = 1_000_000;
    expect(await lease.acquire("a", t + 60_000, t)).toBe(true);
    expect(await lease.acquire("b", t + 70_000, t + 1000)).toBe(false);
    // The holder may take it again (a retried acquire).
    expect(await lease.acquire("a", t + 60_000, t + 2000)).toBe(true);
    // Someone else's release leaves it held.
    await lease.release("b");
    expect(await lease.acquire("b", t + 70_000, t + 3000)).toBe(false);
    // Past a's deadline (a died without releasing), b takes it; a's late release does not free it.
    expect(await lease.acquire("b", t + 130_000, t + 60_001)).toBe(true);
    await lease.release("a");
    expect(await lease.acquire("c", t + 140_000, t + 61_000)).toBe(false);
    await lease.release("b");
    expect(await lease.acquire("c", t + 140_000, t + 61_000)).toBe(true);
    await lease.release("c");
  });

  it("is per function: the bridge's lease does not block the allocator's", async () => {
    const bridge = new DynamoLease(
      documentClient(dynamoDbClient(inject("dynamodbEndpoint"))),
      names,
      "verifier-bridge",
    );
    expect(await lease.acquire("a", 2e12, 1e12)).toBe(true);
    expect(await bridge.acquire("b", 2e12, 1e12)).toBe(true);
  });
});
