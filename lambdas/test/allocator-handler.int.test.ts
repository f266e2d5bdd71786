// The deployed handler end to end on the local stack: signed offers on a real Pulsar topic,
// registries on the local DynamoDB endpoint (moto), allocations published back on Pulsar; a retried invocation of the
// same scheduled event returns the first report (Powertools idempotency) and publishes nothing.
// The parties hold funds in a market deployed on the Hardhat node: the front door reads them.
import {
  createTables,
  DEFAULT_LAYOUT,
  DynamoParticipants,
  documentClient,
  dynamoDbClient,
  type MessageBus,
  PulsarAdmin,
  PulsarTimeoutError,
  provisionStatusChannel,
  tableNames,
  WebSocketMessageBus,
} from "@surplus/adapters";
import { type DeployedMarket, deployMarket } from "@surplus/contracts";
import { type Address, signEnvelope, toWire, verifyEnvelope } from "@surplus/core";
import {
  allocatorWallet,
  customerBody,
  NOW_MS,
  supplierBody,
  wallet,
} from "@surplus/operator/test-support/allocator-scenario";
import { type Contract, JsonRpcProvider, NonceManager, parseEther } from "ethers";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const provider = new JsonRpcProvider(inject("chainRpcUrl"), undefined, { pollingInterval: 100 });
let m: DeployedMarket;

const pulsar = inject("pulsar");
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const offersTopic = `persistent://public/default/offers-${suffix}`;
const allocationsTopic = `persistent://public/default/allocations-${suffix}`;
const acceptTopic = `persistent://public/default/accept-${suffix}`;
let bus: MessageBus;
let handler: (
  event: { id: string },
  context: unknown,
) => Promise<Record<string, unknown> & { accepts: Record<string, unknown> }>;

async function readAll(topic: string): Promise<unknown[]> {
  const reader = await bus.createReader(topic, { startMessageId: "earliest" });
  const out: unknown[] = [];
  try {
    for (;;) out.push(JSON.parse(new TextDecoder().decode((await reader.readNext(1_500)).payload)));
  } catch (err) {
    if (!(err instanceof PulsarTimeoutError)) throw err;
  } finally {
    await reader.close();
  }
  return out;
}

// A Lambda context whose remaining time counts down: 7.5 s with the 5 s stop margin leaves the
// invocation three rounds a second apart (shared/cadence.ts).
const context = () => {
  const deadline = Date.now() + 7_500;
  return {
    getRemainingTimeInMillis: () => deadline - Date.now(),
    functionName: "allocator",
    awsRequestId: `r-${deadline}`,
  };
};

beforeAll(async () => {
  const [deployer, treasury] = await provider.listAccounts();
  m = await deployMarket(deployer!, { treasury: await treasury!.getAddress() });
  // 901 is the scenario's Mediator: the Allocator chooses only one that can cover its bond.
  for (const i of [0, 1, 2, 10, 11, 901]) {
    const w = wallet(i);
    await (await deployer!.sendTransaction({ to: w.address, value: parseEther("1") })).wait();
    const p = new NonceManager(w.connect(provider));
    const token = m.token.connect(p) as Contract;
    await (await token.getFunction("mint")(w.address, 10n ** 24n)).wait();
    await (await token.getFunction("approve")(m.marketAddress, 10n ** 24n)).wait();
    await (await (m.market.connect(p) as Contract).getFunction("deposit")(10n ** 24n)).wait();
  }
  const prefix = `handler-${suffix}-`;
  await createTables(dynamoDbClient(inject("dynamodbEndpoint")), tableNames(prefix));
  // The operator admitted the Suppliers and Customers (the Allocator refuses strangers' offers).
  const participants = new DynamoParticipants(
    documentClient(dynamoDbClient(inject("dynamodbEndpoint"))),
    tableNames(prefix),
  );
  for (const i of [0, 1, 2]) await participants.admit(wallet(i).address as Address, "supplier", Date.now());
  for (const i of [10, 11]) await participants.admit(wallet(i).address as Address, "customer", Date.now());
  const admin = new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken });
  // Admitted with their status channels, where the Allocator publishes their offers' statuses.
  const layout = { ...DEFAULT_LAYOUT, tenant: "public", publicNamespace: "default" };
  for (const i of [0, 1, 2, 10, 11])
    await provisionStatusChannel(admin, wallet(i).address, allocatorWallet.address, layout);
  await admin.createTopic(offersTopic);
  await admin.createTopic(allocationsTopic);
  await admin.createTopic(acceptTopic);
  bus = new WebSocketMessageBus({ url: pulsar.webUrl, token: pulsar.adminToken });
  Object.assign(process.env, {
    SURPLUS_TABLE_PREFIX: prefix,
    SURPLUS_DYNAMODB_ENDPOINT: inject("dynamodbEndpoint"),
    SURPLUS_CHAIN_ID: String(m.domain.chainId),
    SURPLUS_MARKET_ADDRESS: m.marketAddress,
    SURPLUS_ALLOCATOR_KEY: allocatorWallet.privateKey,
    SURPLUS_PULSAR_URL: pulsar.webUrl,
    SURPLUS_PULSAR_TOKEN: pulsar.adminToken,
    // The market's layout here: its status channels go beside the test's topics.
    SURPLUS_PULSAR_TENANT: "public",
    SURPLUS_PULSAR_NAMESPACE: "default",
    SURPLUS_OFFERS_TOPIC: offersTopic,
    SURPLUS_ALLOCATIONS_TOPIC: allocationsTopic,
    SURPLUS_ACCEPT_TOPIC: acceptTopic,
    // Nothing is accepted here, so nothing is sent to the chain (allocator-handler-accepts covers
    // it); balances and fees are read from it.
    SURPLUS_CHAIN_RPC_URL: inject("chainRpcUrl"),
    POWERTOOLS_METRICS_NAMESPACE: "SurplusTest",
  });
  ({ handler } = (await import("../allocator/handler.ts")) as unknown as { handler: typeof handler });
}, 180_000);

afterAll(async () => {
  await bus?.close();
  provider.destroy();
});

describe("allocator handler", () => {
  it("allocates offers from the channel once, however often the schedule fires", async () => {
    // Offers are stamped at NOW_MS; the handler runs on the wall clock, so they are sent "now".
    const producer = await bus.createProducer(offersTopic);
    const shift = Math.floor(Date.now() / 1000) - NOW_MS / 1000;
    const later = (o: { start: number; end: number }) => ({ start: o.start + shift, end: o.end + shift });
    for (let i = 0; i < 3; i++) {
      const body = supplierBody(i);
      const env = await signEnvelope(
        wallet(i),
        m.domain,
        "SupplierOffer",
        { ...body, ...later(body) },
        Date.now(),
      );
      await producer.send({
        payload: new TextEncoder().encode(toWire(env)),
      });
    }
    for (let i = 10; i < 12; i++) {
      const body = customerBody(i);
      const env = await signEnvelope(
        wallet(i),
        m.domain,
        "CustomerOffer",
        { ...body, ...later(body) },
        Date.now(),
      );
      await producer.send({
        payload: new TextEncoder().encode(toWire(env)),
      });
    }

    const first = await handler({ id: "schedule-1" }, context());
    const retried = await handler({ id: "schedule-1" }, context());
    const next = await handler({ id: "schedule-2" }, context());

    expect(first).toMatchObject({ read: 5, recorded: 5, allocations: 2, published: 2 });
    // Rounds every second until the stop margin, not one per scheduled event.
    expect(first.rounds).toBeGreaterThanOrEqual(2);
    expect(first.accepts).toMatchObject({ read: 0, opened: [], lapsed: 0 });
    expect(retried).toEqual(first);
    expect(next).toMatchObject({ read: 0, allocations: 0, published: 0 });
    const published = await readAll(allocationsTopic);
    expect(published).toHaveLength(2);
    for (const raw of published) {
      const verified = verifyEnvelope(m.domain, raw, { nowMs: Date.now(), maxAgeMs: 60_000 });
      expect(verified.type).toBe("Allocation");
      expect(verified.envelope.signer).toBe(allocatorWallet.address);
    }
  });

  it("runs one invocation's rounds at a time: an overlapping tick waits for the lease", async () => {
    // EventBridge may start the next minute's invocation before the last one's final round ended.
    // Each invocation its own request id, even when both start within the same millisecond (the
    // lease lets its holder in again, so a shared id would let both run).
    let requests = 0;
    const long = () => {
      const deadline = Date.now() + 9_000;
      return {
        getRemainingTimeInMillis: () => deadline - Date.now(),
        awsRequestId: `long-${deadline}-${++requests}`,
      };
    };
    const [a, b] = await Promise.all([
      handler({ id: "overlap-1" }, long()),
      handler({ id: "overlap-2" }, long()),
    ]);
    // Whichever took the lease ran its rounds until its stop margin (4 s); the other waited for it
    // and then had no time left for a round, or only its own margin's worth.
    const [first, second] = [a, b].sort((x, y) => Number(x["waitedMs"]) - Number(y["waitedMs"]));
    expect(first!["rounds"]).toBeGreaterThanOrEqual(2);
    expect(Number(second!["waitedMs"])).toBeGreaterThanOrEqual(2_500);
    expect(Number(first!["rounds"]) + Number(second!["rounds"])).toBeLessThanOrEqual(6);
  });
});
