// The allocator handler through ② to ④ on the real services: offers on Pulsar are allocated by
// one scheduled invocation; the parties read the allocation, accept on the accept channel; the
// next invocation opens it on the market contract deployed on the Hardhat node (Running: every
// deposit locked), and later invocations send nothing more.
import {
  createTables,
  DynamoParticipants,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import {
  DEFAULT_LAYOUT,
  type MessageBus,
  PulsarAdmin,
  PulsarTimeoutError,
  provisionStatusChannel,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { type DeployedMarket, deployMarket } from "@surplus/contracts";
import {
  type Address,
  type Allocation,
  AllocationStateCode,
  allocationId,
  type Bytes32,
  signEnvelope,
  toWire,
  verifyEnvelope,
  ZERO_HASH,
} from "@surplus/core";
import { GAMMA } from "@surplus/operator/test-support/accept-scenario";
import {
  allocatorWallet,
  customerBody,
  NOW_MS,
  supplierBody,
  wallet,
} from "@surplus/operator/test-support/allocator-scenario";
import { type Contract, JsonRpcProvider, NonceManager, parseEther, type Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const pulsar = inject("pulsar");
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const topics = {
  offers: `persistent://public/default/offers-${suffix}`,
  allocations: `persistent://public/default/allocations-${suffix}`,
  accept: `persistent://public/default/accept-${suffix}`,
};
const provider = new JsonRpcProvider(inject("chainRpcUrl"), undefined, { pollingInterval: 100 });
const suppliers = [wallet(0), wallet(1)];
const customer = wallet(10);
const mediator = wallet(901);
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
type Report = Record<string, unknown> & { accepts: { opened: Bytes32[] } & Record<string, unknown> };
let handler: (event: { id: string }, context: unknown) => Promise<Report>;
let m: DeployedMarket;
let bus: MessageBus;

beforeAll(async () => {
  const [deployer, treasury] = await provider.listAccounts();
  m = await deployMarket(deployer!, { treasury: await treasury!.getAddress() });
  // Gas for every key of the scenario; tokens deposited for those that lock deposits.
  for (const w of [allocatorWallet, customer, mediator, ...suppliers])
    await (await deployer!.sendTransaction({ to: w.address, value: parseEther("10") })).wait();
  // The Mediator locks its bond when it signs (issue 14), so it needs tokens too.
  for (const w of [customer, mediator, ...suppliers]) {
    // Its own nonces: the provider's transaction count can lag a just-mined transaction.
    const p = new NonceManager(w.connect(provider));
    const token = m.token.connect(p) as Contract;
    await (await token.getFunction("mint")(w.address, 10n ** 24n)).wait();
    await (await token.getFunction("approve")(m.marketAddress, 10n ** 24n)).wait();
    await (await (m.market.connect(p) as Contract).getFunction("deposit")(10n ** 24n)).wait();
  }
  const prefix = `handler-accepts-${suffix}-`;
  await createTables(dynamoDbClient(inject("dynamodbEndpoint")), tableNames(prefix));
  // The operator admitted the parties (the Allocator refuses strangers' offers).
  const participants = new DynamoParticipants(
    documentClient(dynamoDbClient(inject("dynamodbEndpoint"))),
    tableNames(prefix),
  );
  for (const s of suppliers) await participants.admit(s.address as Address, "supplier", Date.now());
  await participants.admit(customer.address as Address, "customer", Date.now());
  const admin = new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken });
  // Admitted with their status channels, where the Allocator publishes their offers' statuses.
  const layout = { ...DEFAULT_LAYOUT, tenant: "public", publicNamespace: "default" };
  for (const w of [...suppliers, customer])
    await provisionStatusChannel(admin, w.address, allocatorWallet.address, layout);
  for (const t of Object.values(topics)) await admin.createTopic(t);
  bus = new WebSocketMessageBus({ url: pulsar.webUrl, token: pulsar.adminToken });
  Object.assign(process.env, {
    SURPLUS_TABLE_PREFIX: prefix,
    SURPLUS_DYNAMODB_ENDPOINT: inject("dynamodbEndpoint"),
    SURPLUS_CHAIN_ID: String(m.domain.chainId),
    SURPLUS_MARKET_ADDRESS: m.marketAddress,
    SURPLUS_CHAIN_RPC_URL: inject("chainRpcUrl"),
    SURPLUS_ALLOCATOR_KEY: allocatorWallet.privateKey,
    SURPLUS_PULSAR_URL: pulsar.webUrl,
    SURPLUS_PULSAR_TOKEN: pulsar.adminToken,
    // The market's layout here: its status channels go beside the test's topics.
    SURPLUS_PULSAR_TENANT: "public",
    SURPLUS_PULSAR_NAMESPACE: "default",
    SURPLUS_OFFERS_TOPIC: topics.offers,
    SURPLUS_ALLOCATIONS_TOPIC: topics.allocations,
    SURPLUS_ACCEPT_TOPIC: topics.accept,
    POWERTOOLS_METRICS_NAMESPACE: "SurplusTest",
  });
  ({ handler } = (await import("../allocator/handler.ts")) as unknown as { handler: typeof handler });
}, 180_000);

afterAll(async () => {
  await bus?.close();
  provider.destroy();
});

async function send(topic: string, envelopes: readonly unknown[]) {
  const producer = await bus.createProducer(topic);
  for (const e of envelopes) await producer.send({ payload: new TextEncoder().encode(toWire(e as never)) });
  await producer.close();
}

async function publishedAllocations(): Promise<Allocation[]> {
  const reader = await bus.createReader(topics.allocations, { startMessageId: "earliest" });
  const out: Allocation[] = [];
  try {
    for (;;) {
      const raw = JSON.parse(new TextDecoder().decode((await reader.readNext(1_500)).payload));
      const v = verifyEnvelope(m.domain, raw, { nowMs: Date.now(), maxAgeMs: 60_000 });
      if (v.type === "Allocation") out.push(v.body);
    }
  } catch (err) {
    if (!(err instanceof PulsarTimeoutError)) throw err;
  } finally {
    await reader.close();
  }
  return out;
}

describe("allocator handler: offers → allocation → accepts → open", () => {
  it("opens the allocation on-chain in the invocation after every party accepted, once", async () => {
    // Offers as the scenario's, moved to start a minute from now (the signing deadline).
    const shift =
      Math.max(Math.floor(Date.now() / 1000), (await provider.getBlock("latest"))!.timestamp) - NOW_MS / 1000;
    const later = (o: { start: number; end: number }) => ({ start: o.start + shift, end: o.end + shift });
    const offers = [];
    for (const [i, s] of suppliers.entries()) {
      const body = { ...supplierBody(i), mediators: [mediator.address as Address] };
      offers.push(await signEnvelope(s, m.domain, "SupplierOffer", { ...body, ...later(body) }, Date.now()));
    }
    const c = { ...customerBody(10), mediators: [mediator.address as Address] };
    offers.push(await signEnvelope(customer, m.domain, "CustomerOffer", { ...c, ...later(c) }, Date.now()));
    await send(topics.offers, offers);

    const allocated = await handler({ id: "schedule-1" }, context());
    const [a] = await publishedAllocations();
    expect(allocated).toMatchObject({ allocations: 1, published: 1 });
    expect(a).toBeDefined();
    const id = allocationId(m.domain, a!);
    const accept = (w: Wallet, commitment: Bytes32) =>
      signEnvelope(
        w,
        m.domain,
        "Accept",
        { allocationId: id, account: w.address as Address, commitment },
        Date.now(),
      );
    await send(topics.accept, [
      await accept(customer, GAMMA),
      await accept(mediator, ZERO_HASH),
      ...(await Promise.all(suppliers.map((s) => accept(s, ZERO_HASH)))),
    ]);

    const sentBefore = await provider.getTransactionCount(allocatorWallet.address);
    const opened = await handler({ id: "schedule-2" }, context());
    const next = await handler({ id: "schedule-3" }, context());

    expect(opened.accepts).toMatchObject({ read: 4, recorded: 4, rejected: 0, opened: [id], failed: 0 });
    const [state] = (await m.market.getFunction("recordOf")(id)) as [bigint];
    expect(Number(state)).toBe(AllocationStateCode.Running);
    expect((await m.market.getFunction("recordOf")(id))[3]).toBe(true); // the Customer's Accept (Γ) recorded
    expect(next.accepts).toMatchObject({ read: 0, opened: [], alreadyOpen: 0 });
    expect(await provider.getTransactionCount(allocatorWallet.address)).toBe(sentBefore + 1);
  });
});
