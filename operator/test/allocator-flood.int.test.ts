// A flood of the offers channel (issue 16): 10,000 messages, mixed hostile and valid — offers of
// keys never admitted, valid offers of an admitted party holding nothing, offers stamped 23 h
// ahead, garbage, and 700 KB messages (the largest the WebSocket producer sends) — go through the Allocator's offer round on the real broker,
// DynamoDB and the market contract; an honest funded pair posted after the flood must still be
// matched. Prints the test process's RSS; the figures to compare are `./surplus bench flood`'s
// (bench/results/flood.json), whose Allocator runs in a process of its own.
import { ContractFreeBalances, readMarketFees } from "@surplus/adapters/chain";
import {
  createTables,
  DynamoAllocatorRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import {
  mintParticipantToken,
  PulsarAdmin,
  PulsarOfferSource,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { type DeployedMarket, deployMarket } from "@surplus/contracts";
import {
  type Address,
  type Allocation,
  type AllocationPublisher,
  type Bytes32,
  type CustomerOffer,
  DEFAULT_MARKET_BOUNDS,
  type SupplierOffer,
  signEnvelope,
  toWire,
  type VoidAllocation,
} from "@surplus/core";
import { type Contract, JsonRpcProvider, NonceManager, parseEther, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { MemoryParticipants, MemoryStandingRegistry } from "../src/allocator/front-door.ts";
import { type RoundReport, runAllocatorRound } from "../src/allocator/offer-round.ts";
import { customerBody, supplierBody } from "./support/allocator-scenario.ts";

const pulsar = inject("pulsar");
const provider = new JsonRpcProvider(inject("chainRpcUrl"), undefined, { pollingInterval: 100 });
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const offersTopic = `persistent://public/default/flood-offers-${suffix}`;
const supplier = Wallet.createRandom();
const customer = Wallet.createRandom();
const mallory = Wallet.createRandom();
// Funded like the honest pair: the Allocator chooses only a Mediator that can cover its bond.
const mediatorWallet = Wallet.createRandom();
const mediator = mediatorWallet.address as Address;
const FLOOD = { strangers: 4_000, unfunded: 1_000, stale: 2_000, garbage: 2_960, oversized: 40 };
let m: DeployedMarket;
let bus: WebSocketMessageBus;

/** Publications kept in memory: what the round allocated. */
class Captured implements AllocationPublisher {
  readonly allocations: Allocation[] = [];
  async publishAllocation(_id: Bytes32, a: Allocation) {
    this.allocations.push(a);
  }
  async publishVoid(_v: VoidAllocation) {}
}

beforeAll(async () => {
  const [deployer] = await provider.listAccounts();
  m = await deployMarket(deployer!);
  for (const w of [supplier, customer, mediatorWallet]) {
    await (await deployer!.sendTransaction({ to: w.address, value: parseEther("1") })).wait();
    const p = new NonceManager(w.connect(provider));
    const token = m.token.connect(p) as Contract;
    await (await token.getFunction("mint")(w.address, 10n ** 24n)).wait();
    await (await token.getFunction("approve")(m.marketAddress, 10n ** 24n)).wait();
    await (await (m.market.connect(p) as Contract).getFunction("deposit")(10n ** 24n)).wait();
  }
  const admin = new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken });
  await admin.createTopic(offersTopic);
  for (const w of [supplier, customer, mallory])
    await admin.grantTopic(offersTopic, w.address.toLowerCase(), ["produce"]);
  bus = new WebSocketMessageBus({ url: pulsar.webUrl, token: pulsar.adminToken });
}, 300_000);

afterAll(async () => {
  await bus?.close();
  provider.destroy();
});

const at = (o: { start: number; end: number }, start: number) => ({ start, end: start + (o.end - o.start) });

describe("a flood of the offers channel", () => {
  it("leaves the Allocator's memory bounded and the honest pair matched", async () => {
    const now = Date.now();
    const start = Math.floor(now / 1000) + 120;
    const body = (w: { address: string }, i: number): CustomerOffer => ({
      ...customerBody(0, { account: w.address as Address, mediators: [mediator], nonce: BigInt(i) }),
      ...at(customerBody(0), start),
      maxPricePerMi: 10n ** 20n,
    });
    // Mallory holds a token and floods with it: all hostile messages go through its credentials.
    const secret = new Uint8Array(Buffer.from(pulsar.tokenSecret, "base64"));
    const malloryBus = new WebSocketMessageBus({
      url: pulsar.webUrl,
      token: await mintParticipantToken(secret, mallory.address),
    });
    const producer = await malloryBus.createProducer(offersTopic);
    const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : toWire(v));
    const payloads: Uint8Array[] = [];
    const strangers = Array.from({ length: 40 }, () => Wallet.createRandom());
    for (let i = 0; i < FLOOD.strangers; i++) {
      const w = strangers[i % strangers.length]!;
      payloads.push(enc(await signEnvelope(w, m.domain, "CustomerOffer", body(w, i), now)));
    }
    for (let i = 0; i < FLOOD.unfunded; i++)
      payloads.push(enc(await signEnvelope(mallory, m.domain, "CustomerOffer", body(mallory, i), now)));
    for (let i = 0; i < FLOOD.stale; i++)
      payloads.push(
        enc(
          await signEnvelope(
            mallory,
            m.domain,
            "CustomerOffer",
            body(mallory, 10_000 + i),
            now + 23 * 3_600_000,
          ),
        ),
      );
    for (let i = 0; i < FLOOD.garbage; i++)
      payloads.push(
        i % 2 ? crypto.getRandomValues(new Uint8Array(256)) : enc(`{"schemaVersion":1,"type":"X${i}"`),
      );
    for (let i = 0; i < FLOOD.oversized; i++) payloads.push(new Uint8Array(700 * 1024).fill(0x7b));
    for (let i = 0; i < payloads.length; i += 100)
      await Promise.all(payloads.slice(i, i + 100).map((payload) => producer.send({ payload })));
    await producer.close();
    await malloryBus.close();
    const flooded = payloads.length;
    payloads.length = 0;

    // The Allocator, front door on.
    const names = tableNames(`flood-${suffix}-`);
    const client = dynamoDbClient(inject("dynamodbEndpoint"));
    await createTables(client, names);
    const participants = new MemoryParticipants();
    participants.admit(supplier.address as Address, "supplier");
    participants.admit(customer.address as Address, "customer");
    participants.admit(mallory.address as Address, "customer");
    const publisher = new Captured();
    const deps = {
      source: new PulsarOfferSource(bus, offersTopic, 300),
      registry: new DynamoAllocatorRegistry(documentClient(client), names),
      publisher,
      frontDoor: {
        balances: new ContractFreeBalances(provider, m.marketAddress),
        standing: new MemoryStandingRegistry(),
        participants,
      },
    };
    const fees = await readMarketFees(provider, m.marketAddress);
    const config = {
      domain: m.domain,
      allocator: Wallet.createRandom().address as Address,
      penaltyRate: fees.penaltyRate,
      frontDoor: { fees },
    };
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 50);
    const reports: RoundReport[] = [];
    const started = Date.now();
    try {
      // The flood is read first; then the honest pair arrives.
      while (reports.reduce((n, r) => n + r.read, 0) < flooded)
        reports.push(await runAllocatorRound(deps, config, Date.now()));
      const honest = await bus.createProducer(offersTopic);
      const s: SupplierOffer = {
        ...supplierBody(0, { account: supplier.address as Address, mediators: [mediator] }),
        ...at(supplierBody(0), start),
      };
      const c: CustomerOffer = {
        ...customerBody(0, { account: customer.address as Address, mediators: [mediator] }),
        ...at(customerBody(0), start),
      };
      const postedAt = Date.now();
      await honest.send({
        payload: enc(await signEnvelope(supplier, m.domain, "SupplierOffer", s, postedAt)),
      });
      await honest.send({
        payload: enc(await signEnvelope(customer, m.domain, "CustomerOffer", c, postedAt)),
      });
      await honest.close();
      let matchedAt: number | undefined;
      while (matchedAt === undefined && Date.now() - postedAt < 60_000) {
        reports.push(await runAllocatorRound(deps, config, Date.now()));
        if (publisher.allocations.some((a) => a.customer === customer.address)) matchedAt = Date.now();
      }
      clearInterval(sampler);

      const rejected = reports.flatMap((r) => r.rejected.map((x) => x.error));
      const count = (re: RegExp) => rejected.filter((e) => re.test(e)).length;
      const result = {
        messages: flooded,
        mix: FLOOD,
        rounds: reports.length,
        floodReadMs: postedAt - started,
        honestPairMatchedMs: matchedAt === undefined ? null : matchedAt - postedAt,
        rejected: {
          notAdmitted: count(/not an admitted participant/),
          stale: count(/outside the ±/),
          other: rejected.length - count(/not an admitted participant/) - count(/outside the ±/),
        },
        recorded: reports.reduce((n, r) => n + r.recorded, 0),
        allocations: publisher.allocations.length,
        rssBaselineMb: Math.round(baseline / 2 ** 20),
        rssPeakMb: Math.round(peak / 2 ** 20),
        rssGrowthMb: Math.round((peak - baseline) / 2 ** 20),
      };
      process.stderr.write(`[flood] ${JSON.stringify(result)}\n`);

      expect(flooded).toBeGreaterThanOrEqual(10_000);
      expect(matchedAt).toBeDefined();
      // Only the honest pair was ever allocated; the strangers' and the stale offers never recorded.
      for (const a of publisher.allocations) {
        expect(a.customer).toBe(customer.address);
        expect(a.suppliers).toEqual([supplier.address]);
      }
      expect(result.rejected.notAdmitted).toBe(FLOOD.strangers);
      expect(result.rejected.stale).toBe(FLOOD.stale);
      // Mallory's valid offers are recorded only up to the market's cap on open offers per account.
      expect(result.recorded).toBe(DEFAULT_MARKET_BOUNDS.maxOpenOffersPerAccount + 2);
      expect(count(/open offers; the market allows/)).toBe(
        FLOOD.unfunded - DEFAULT_MARKET_BOUNDS.maxOpenOffersPerAccount,
      );
      // Whatever grows with hostile input is capped: far below the 28 MB the big messages carry
      // per read, let alone the flood's 40+ MB.
      expect(result.rssGrowthMb).toBeLessThan(256);
    } finally {
      clearInterval(sampler);
    }
  }, 600_000);
});
