// The verifier-bridge Lambda handler itself, on the real services: a Hardhat node (JSON-RPC), the
// Pulsar broker and DynamoDB (moto). An allocation opened on the node is mirrored into the
// registry, its private channels are provisioned with Table 4's grants, and its state change is
// announced on the allocations channel; a second invocation applies nothing again.
import { PutCommand } from "@aws-sdk/lib-dynamodb";
import {
  createTables,
  DynamoBridgeRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import {
  allocationChannels,
  mintParticipantToken,
  PulsarAdmin,
  PulsarTimeoutError,
  provisionMarket,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { deployMarket, signAccept, toTerms } from "@surplus/contracts";
import {
  type Address,
  type Allocation,
  allocationId,
  type Bytes32,
  checklistCommitment,
  SCHEMA_VERSION,
  toWire,
} from "@surplus/core";
import { type Contract, JsonRpcProvider } from "ethers";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const pulsar = inject("pulsar");
const prefix = `bridge-handler-${process.pid}-`;
const provider = new JsonRpcProvider(inject("chainRpcUrl"), undefined, { pollingInterval: 100 });
let id: Bytes32;
let terms: Allocation;
let handler: (
  event: { id?: string },
  context?: { getRemainingTimeInMillis(): number },
) => Promise<{ applied: number; duplicates: number; passes: number }>;

beforeAll(async () => {
  const accounts = await provider.listAccounts();
  const [deployer, treasury, customer, supplier, mediator, allocator] = accounts as [
    (typeof accounts)[0],
    ...typeof accounts,
  ];
  const m = await deployMarket(deployer!, { treasury: await treasury!.getAddress() });
  for (const p of [customer!, supplier!, mediator!]) {
    const token = m.token.connect(p) as Contract;
    await (await token.getFunction("mint")(await p.getAddress(), 10n ** 24n)).wait();
    await (await token.getFunction("approve")(m.marketAddress, 10n ** 24n)).wait();
    await (await (m.market.connect(p) as Contract).getFunction("deposit")(10n ** 24n)).wait();
  }
  const now = (await provider.getBlock("latest"))!.timestamp;
  terms = {
    schemaVersion: SCHEMA_VERSION,
    allocator: (await allocator!.getAddress()) as Address,
    customer: (await customer!.getAddress()) as Address,
    suppliers: [(await supplier!.getAddress()) as Address],
    mediator: (await mediator!.getAddress()) as Address,
    customerOffer: `0x${"c0".repeat(32)}`,
    supplierOffers: [`0x${"50".repeat(32)}`],
    serviceHash: `0x${"5e".repeat(32)}`,
    start: now + 30,
    end: now + 90,
    pricePerMi: 10n ** 9n,
    miPerInput: 100,
    inputsPerSecond: 10,
    testCount: 1,
    minReplicas: 1,
    nonce: BigInt(Date.now()),
  };
  id = allocationId(m.domain, terms);
  // The Allocator committed the allocation to its registry before opening it on-chain.
  const client = dynamoDbClient(inject("dynamodbEndpoint"));
  await createTables(client, tableNames(prefix));
  await documentClient(client).send(
    new PutCommand({
      TableName: tableNames(prefix).allocations,
      Item: { allocationId: id, kind: "allocation", body: toWire(terms) },
    }),
  );
  const commitment = checklistCommitment(id, `0x${"77".repeat(32)}`, [1n]);
  const sigs = {
    customer: await signAccept(customer!, m.domain, id, commitment),
    commitment,
    mediator: await signAccept(mediator!, m.domain, id),
    suppliers: [await signAccept(supplier!, m.domain, id)],
  };
  await (await (m.market.connect(allocator!) as Contract).getFunction("open")(toTerms(terms), sigs)).wait();
  await provisionMarket(new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken }));

  Object.assign(process.env, {
    SURPLUS_CHAIN_RPC_URL: inject("chainRpcUrl"),
    SURPLUS_MARKET_ADDRESS: m.marketAddress,
    SURPLUS_CONFIRMATIONS: "0",
    SURPLUS_PULSAR_URL: pulsar.webUrl,
    SURPLUS_PULSAR_TOKEN: pulsar.adminToken,
    SURPLUS_TABLE_PREFIX: prefix,
    SURPLUS_DYNAMODB_ENDPOINT: inject("dynamodbEndpoint"),
    POWERTOOLS_METRICS_DISABLED: "true",
    POWERTOOLS_LOG_LEVEL: "WARN",
  });
  ({ handler } = (await import("../verifier-bridge/handler.ts")) as unknown as { handler: typeof handler });
}, 180_000);

afterAll(() => provider.destroy());

describe("verifier-bridge handler", () => {
  it("mirrors the allocation into the registry and announces it; a retried invocation applies nothing", async () => {
    const first = await handler({ id: "scheduled-1" });
    expect(first.applied).toBeGreaterThanOrEqual(2);
    // An invocation with Lambda time left runs passes every second until its stop margin.
    const deadline = Date.now() + 7_500;
    const again = await handler(
      { id: "scheduled-2" },
      { getRemainingTimeInMillis: () => deadline - Date.now() },
    );
    expect(again.applied).toBe(0);
    expect(again.passes).toBeGreaterThanOrEqual(2);
    const registry = new DynamoBridgeRegistry(dynamoDbClient(inject("dynamodbEndpoint")), tableNames(prefix));
    expect((await registry.chainStateOf(id))?.state).toBe("Running");
  });

  it("provisioned the allocation's channels: the Customer may now publish its input", async () => {
    const ch = allocationChannels(id, terms.suppliers);
    const secret = new Uint8Array(Buffer.from(pulsar.tokenSecret, "base64"));
    const bus = new WebSocketMessageBus({
      url: pulsar.webUrl,
      token: await mintParticipantToken(secret, terms.customer),
    });
    try {
      const producer = await bus.createProducer(ch.input, { sendTimeoutMs: 10_000 });
      await producer.send({ payload: new Uint8Array([1]), properties: { seq: "0" } });
    } finally {
      await bus.close();
    }
  });

  it("announced the state change on the allocations channel, with its dedup key", async () => {
    const bus = new WebSocketMessageBus({ url: pulsar.webUrl, token: pulsar.adminToken });
    const { marketChannels } = await import("@surplus/adapters/pulsar");
    const reader = await bus.createReader(marketChannels().allocations, { startMessageId: "earliest" });
    const ours: string[] = [];
    try {
      for (;;) {
        const m = await reader.readNext(3_000);
        if (m.properties.allocationId === id)
          ours.push(`${JSON.parse(new TextDecoder().decode(m.payload)).event}@${m.properties.dedupKey}`);
      }
    } catch (e) {
      if (!(e instanceof PulsarTimeoutError)) throw e;
    } finally {
      await bus.close();
    }
    expect(ours.some((o) => o.startsWith("AllocationRunning@"))).toBe(true);
  });
});
