// The accept round on the real services: accepts signed by the parties' node accounts travel on a
// Pulsar topic, are recorded in DynamoDB (moto), and the Allocator opens the allocation on the market
// contract deployed on the Hardhat node. Also the opener's idempotence against the real contract: a
// lost record, two concurrent submissions, and a short-funded Customer (skipped, not refused).
import { MarketAllocationOpener } from "@surplus/adapters/chain";
import {
  createTables,
  DynamoAcceptRegistry,
  DynamoAllocatorRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import { PulsarAdmin, PulsarOfferSource, WebSocketMessageBus } from "@surplus/adapters/pulsar";
import { type DeployedMarket, deployMarket } from "@surplus/contracts";
import {
  type Address,
  type Allocation,
  AllocationStateCode,
  allocationId,
  type Bytes32,
  offerId,
  SCHEMA_VERSION,
  signEnvelope,
  toWire,
  ZERO_HASH,
} from "@surplus/core";
import { type Contract, JsonRpcProvider, type JsonRpcSigner } from "ethers";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { type AcceptRoundConfig, runAcceptRound, signaturesOf } from "../src/allocator/accept-round.ts";
import { crashingOnce, customerOffer, GAMMA } from "./support/accept-scenario.ts";

const pulsar = inject("pulsar");
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const topic = `persistent://public/default/accept-${suffix}`;
const provider = new JsonRpcProvider(inject("chainRpcUrl"), undefined, { pollingInterval: 100 });
let m: DeployedMarket;
let allocator: JsonRpcSigner;
let customer: JsonRpcSigner;
let mediator: JsonRpcSigner;
let suppliers: JsonRpcSigner[];
let unfunded: JsonRpcSigner;
let bus: WebSocketMessageBus;
let registry: DynamoAcceptRegistry;
let offers: DynamoAllocatorRegistry;
let config: AcceptRoundConfig;
let nonce = 0n;
let offerVersion = 0;

/** An allocation of `allocator`, starting a minute from now on the chain's clock and the wall clock. */
async function terms(o: { customer?: JsonRpcSigner } = {}): Promise<Allocation> {
  const chainNow = (await provider.getBlock("latest"))!.timestamp;
  const start = Math.max(chainNow, Math.floor(Date.now() / 1000)) + 60;
  return {
    schemaVersion: SCHEMA_VERSION,
    allocator: (await allocator.getAddress()) as Address,
    customer: (await (o.customer ?? customer).getAddress()) as Address,
    suppliers: (await Promise.all(suppliers.map((s) => s.getAddress()))) as Address[],
    mediator: (await mediator.getAddress()) as Address,
    customerOffer: `0x${"c0".repeat(32)}`,
    supplierOffers: [`0x${"50".repeat(32)}`, `0x${"51".repeat(32)}`],
    serviceHash: `0x${"5e".repeat(32)}`,
    start,
    end: start + 60,
    pricePerMi: 10n ** 9n,
    miPerInput: 100,
    inputsPerSecond: 10,
    testCount: 1,
    minReplicas: 1,
    nonce: ++nonce,
  };
}

/** Commits `a` through the offer round's registry, as a round would. */
async function commit(a: Allocation): Promise<Bytes32> {
  const id = allocationId(m.domain, a);
  const committed = await offers.commit({
    customer: {
      offerId: offerId(m.domain, customerOffer),
      expectedVersion: offerVersion++,
      openWindows: [{ start: 0, end: 1 }],
      closed: false,
    },
    suppliers: [],
    allocations: [{ allocationId: id, allocation: a }],
  });
  if (!committed) throw new Error("commit failed");
  return id;
}

/** Every party of `a` accepts on the accept topic (the Customer with Γ). */
async function acceptAll(a: Allocation, parties: JsonRpcSigner[]): Promise<void> {
  const producer = await bus.createProducer(topic);
  const id = allocationId(m.domain, a);
  for (const p of parties) {
    const account = (await p.getAddress()) as Address;
    const env = await signEnvelope(
      p,
      m.domain,
      "Accept",
      { allocationId: id, account, commitment: account === a.customer ? GAMMA : ZERO_HASH },
      Date.now(),
    );
    await producer.send({ payload: new TextEncoder().encode(toWire(env)), key: id });
  }
  await producer.close();
}

const stateOf = async (id: Bytes32) => Number(((await m.market.getFunction("recordOf")(id)) as [bigint])[0]);

beforeAll(async () => {
  const accounts = await provider.listAccounts();
  const [deployer, treasury] = accounts;
  [allocator, customer, mediator] = accounts.slice(12, 15) as [JsonRpcSigner, JsonRpcSigner, JsonRpcSigner];
  suppliers = accounts.slice(15, 17);
  unfunded = accounts[17]!;
  m = await deployMarket(deployer!, { treasury: await treasury!.getAddress() });
  for (const p of [customer, mediator, ...suppliers]) {
    const token = m.token.connect(p) as Contract;
    await (await token.getFunction("mint")(await p.getAddress(), 10n ** 24n)).wait();
    await (await token.getFunction("approve")(m.marketAddress, 10n ** 24n)).wait();
    await (await (m.market.connect(p) as Contract).getFunction("deposit")(10n ** 24n)).wait();
  }
  const client = dynamoDbClient(inject("dynamodbEndpoint"));
  const names = tableNames(`accepts-chain-${suffix}-`);
  await createTables(client, names);
  offers = new DynamoAllocatorRegistry(documentClient(client), names);
  registry = new DynamoAcceptRegistry(documentClient(client), names);
  await offers.recordOffer({
    offerId: offerId(m.domain, customerOffer),
    offer: customerOffer,
    envelope: "{}",
    recordedAtMs: Date.now(),
  });
  await new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken }).createTopic(topic);
  bus = new WebSocketMessageBus({ url: pulsar.webUrl, token: pulsar.adminToken });
  config = { domain: m.domain, allocator: (await allocator.getAddress()) as Address };
}, 180_000);

afterAll(async () => {
  await bus?.close();
  provider.destroy();
});

const deps = () => ({
  source: new PulsarOfferSource(bus, topic, 500),
  registry,
  opener: new MarketAllocationOpener(allocator, m.marketAddress),
});

describe("accept round on Pulsar, DynamoDB (moto) and the market contract", () => {
  it("opens the allocation on-chain once every party accepted; the next round sends nothing", async () => {
    const a = await terms();
    const id = await commit(a);
    await acceptAll(a, [customer, mediator, ...suppliers]);
    const sentBefore = await provider.getTransactionCount(await allocator.getAddress());

    const report = await runAcceptRound(deps(), config, Date.now());
    const next = await runAcceptRound(deps(), config, Date.now());

    expect(report).toMatchObject({ read: 4, recorded: 4, rejected: [], failed: [], lapsed: [] });
    expect(report.opened).toEqual([
      expect.objectContaining({ allocationId: id, state: "Running", gasUsed: expect.any(BigInt) }),
    ]);
    expect(report.opened[0]!.gasUsed).toBeGreaterThan(100_000n);
    expect(await stateOf(id)).toBe(AllocationStateCode.Running);
    expect((await m.market.getFunction("recordOf")(id))[3]).toBe(true); // the Customer's Accept (Γ) recorded
    expect((await registry.progress(id))?.status).toBe("opened");
    expect(next).toMatchObject({ read: 0, opened: [], alreadyOpen: [], failed: [] });
    expect(await provider.getTransactionCount(await allocator.getAddress())).toBe(sentBefore + 1);
  });

  it("after the record of a sent open was lost, finds it open on-chain and sends nothing again", async () => {
    const a = await terms();
    const id = await commit(a);
    await acceptAll(a, [customer, mediator, ...suppliers]);
    const sentBefore = await provider.getTransactionCount(await allocator.getAddress());

    const crashed = await runAcceptRound(
      { ...deps(), registry: crashingOnce(registry, "markOpened") },
      config,
      Date.now(),
    );
    const retried = await runAcceptRound(deps(), { ...config, openClaimTtlMs: 0 }, Date.now());

    expect(crashed.failed).toEqual([{ allocationId: id, error: "crashed in markOpened" }]);
    expect(retried.alreadyOpen).toEqual([id]);
    expect((await registry.progress(id))?.status).toBe("opened");
    expect(await provider.getTransactionCount(await allocator.getAddress())).toBe(sentBefore + 1);
  });

  it("opener: of two concurrent submissions one opens, the other is told it is open already", async () => {
    const b = await terms();
    const idB = await commit(b);
    await acceptAll(b, [customer, mediator, ...suppliers]);
    // A round records b's accepts but leaves the open to whoever holds the claim: this test.
    await registry.claimOpen(idB, Date.now());
    await runAcceptRound(deps(), config, Date.now());
    const progress = (await registry.progress(idB))!;
    const opener = new MarketAllocationOpener(allocator, m.marketAddress);

    const outcomes = await Promise.all([
      opener.open(idB, b, signaturesOf(progress)),
      opener.open(idB, b, signaturesOf(progress)),
    ]);

    expect(outcomes.map((o) => o.kind).sort()).toEqual(["already-open", "opened"]);
    expect(await stateOf(idB)).toBe(AllocationStateCode.Running);
  });

  it("opens an allocation whose Customer lacks funds in Signing: the contract skips a short signer, it does not revert", async () => {
    const a = await terms({ customer: unfunded });
    const id = await commit(a);
    await acceptAll(a, [unfunded, mediator, ...suppliers]);

    const report = await runAcceptRound(deps(), config, Date.now());

    // The market skips a signer whose free balance is short (so nobody can make the Allocator's
    // open revert by withdrawing); the Customer may still sign on-chain before the deadline.
    expect(report.failed).toEqual([]);
    expect(report.opened).toEqual([expect.objectContaining({ allocationId: id, state: "Signing" })]);
    expect(await stateOf(id)).toBe(AllocationStateCode.Signing);
    expect((await m.market.getFunction("recordOf")(id))[3]).toBe(false); // the Customer's Accept not recorded
    expect((await registry.progress(id))?.status).toBe("opened");
  });
});
