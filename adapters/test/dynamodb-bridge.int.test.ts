// The verifier-bridge on its real registry: DynamoDB (moto), fed by the real contract's events on an
// in-process chain. A run that crashes right before moving its cursor is retried: every event is
// recorded exactly once, and the allocation's mirrored state ends Closed.
import { DescribeTimeToLiveCommand } from "@aws-sdk/client-dynamodb";
import { PutCommand, ScanCommand } from "@aws-sdk/lib-dynamodb";
import {
  as,
  createNetwork,
  deployFunded,
  makeAllocation,
  openRunning,
  results,
  settleArgs,
  testAllocation,
  toEnd,
} from "@surplus/contracts/test-support";
import { type Allocation, type BridgeRegistry, type Bytes32, toWire } from "@surplus/core";
import { runBridge } from "@surplus/operator";
import { beforeAll, describe, expect, inject, it } from "vitest";
import { MarketEventReader } from "../src/chain/index.ts";
import {
  createTables,
  DynamoBridgeRegistry,
  documentClient,
  dynamoDbClient,
  IDEMPOTENCY_TTL_ATTRIBUTE,
  tableNames,
} from "../src/dynamodb/index.ts";

const client = dynamoDbClient(inject("dynamodbEndpoint"));
const names = tableNames(`bridge-${process.pid}-`);
let registry: DynamoBridgeRegistry;
let reader: MarketEventReader;
let id: Bytes32;
const noChannels = { provision: async () => undefined, revoke: async () => undefined };

beforeAll(async () => {
  await createTables(client, names);
  registry = new DynamoBridgeRegistry(client, names);
  const net = await createNetwork();
  const m = await deployFunded(net);
  const a: Allocation = await makeAllocation(m, { replicas: 1 });
  const d = testAllocation(m, a);
  id = d.id;
  // The allocation item as the Allocator's registry writes it when it commits an allocation.
  await documentClient(client).send(
    new PutCommand({
      TableName: names.allocations,
      Item: { allocationId: id, kind: "allocation", body: toWire(a), status: "committed" },
    }),
  );
  await openRunning(m, d);
  await toEnd(m, d);
  // Only the Customer settles (with its dispute mask: none here).
  await (
    await as(m, m.parties.customer).getFunction("settle")(
      ...settleArgs(d, d.outputs.gamma, await results(m, d)),
    )
  ).wait();
  reader = new MarketEventReader(net.ethers.provider, await m.market.getAddress());
}, 120_000);

describe("DynamoBridgeRegistry", () => {
  it("reads the terms the Allocator recorded", async () => {
    expect((await registry.termsOf(id))?.suppliers).toHaveLength(1);
    expect(await registry.termsOf(`0x${"00".repeat(32)}`)).toBeUndefined();
  });

  it("applies every event exactly once across a crash and a retry, and mirrors the state to Closed", async () => {
    const announced: string[] = [];
    const deps = {
      chain: reader,
      announcer: { announce: async (a: { event: string }) => void announced.push(a.event) },
      channels: noChannels,
    };
    let crash = true;
    const crashing: BridgeRegistry = {
      termsOf: (i) => registry.termsOf(i),
      applyEvent: (e) => registry.applyEvent(e),
      cursor: (n) => registry.cursor(n),
      advanceCursor: async (n, from, to) => {
        if (crash) {
          crash = false;
          throw new Error("crashed before moving the cursor");
        }
        return registry.advanceCursor(n, from, to);
      },
    };
    await expect(runBridge({ ...deps, registry: crashing }, { confirmations: 0 })).rejects.toThrow("crashed");
    const retry = await runBridge({ ...deps, registry }, { confirmations: 0 });
    const onChain = (await reader.events(0, await reader.headBlock())).filter(
      (e) => e.allocationId === id.toLowerCase(),
    );
    expect(retry.applied).toBe(0);
    expect(retry.duplicates).toBe(onChain.length);
    const mirrored = await registry.chainStateOf(id);
    expect(mirrored?.state).toBe("Closed");
    expect(mirrored?.history.map((h) => h.event)).toEqual(onChain.map((e) => e.name));
    expect(onChain.map((e) => e.name).filter((n) => n !== "AllocationSigned")).toEqual([
      "AllocationOpened",
      "AllocationRunning",
      "AllocationSettled",
      "AllocationClosed",
    ]);
    expect(await registry.cursor("verifier-bridge")).toBe(retry.toBlock);
  });

  it("writes applied-event markers with the idempotency table's TTL attribute, so they expire", async () => {
    await runBridge(
      { chain: reader, announcer: { announce: async () => undefined }, channels: noChannels, registry },
      {
        confirmations: 0,
      },
    );
    const ttl = await client.send(new DescribeTimeToLiveCommand({ TableName: names.idempotency }));
    expect(ttl.TimeToLiveDescription?.AttributeName).toBe(IDEMPOTENCY_TTL_ATTRIBUTE);
    // A test-only scan of this test's own table.
    const { Items = [] } = await documentClient(client).send(
      new ScanCommand({ TableName: names.idempotency }),
    );
    const markers = Items.filter((i) => String(i.id).startsWith("bridge#"));
    expect(markers.length).toBeGreaterThan(0);
    const now = Math.floor(Date.now() / 1000);
    for (const m of markers) {
      expect(typeof m[IDEMPOTENCY_TTL_ATTRIBUTE], JSON.stringify(m)).toBe("number");
      expect(m[IDEMPOTENCY_TTL_ATTRIBUTE]).toBeGreaterThan(now);
    }
  });

  it("lets only one of two runs with the same cursor move it", async () => {
    const head = await reader.headBlock();
    const stored = await registry.cursor("verifier-bridge");
    const [a, b] = await Promise.all([
      registry.advanceCursor("verifier-bridge", stored, head + 1),
      registry.advanceCursor("verifier-bridge", stored, head + 2),
    ]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
  });
});
