// The spec is enough (issue 16): spec/python/conformance.py, written only from spec/, trades on
// the local services — Apache Pulsar's own Python client with each party's own token posts a
// Supplier offer and a Customer offer, the Allocator's round (the Lambda's use case, front door
// on: both parties admitted and funded in a market on the Hardhat node) allocates them, and the
// Python client reads the Allocator's signed Allocation and recovers its signer. The Python
// environment (PyPI's pulsar-client and eth-account, pinned) is made once under .data/.
import { spawn } from "node:child_process";
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
  PulsarAllocationPublisher,
  PulsarOfferSource,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { type DeployedMarket, deployMarket } from "@surplus/contracts";
import { type Address, type Allocation, allocationId, parse, allocation as schema } from "@surplus/core";
import { MemoryParticipants, MemoryStandingRegistry, runAllocatorRound } from "@surplus/operator";
import { type Contract, JsonRpcProvider, type JsonRpcSigner, NonceManager, parseEther, Wallet } from "ethers";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { conformanceClient, ensurePython, python } from "./python-env.ts";

const pulsar = inject("pulsar");
const provider = new JsonRpcProvider(inject("chainRpcUrl"), undefined, { pollingInterval: 100 });
const suffix = `${process.pid}-${Date.now().toString(36)}`;
const offersTopic = `persistent://public/default/py-offers-${suffix}`;
const allocationsTopic = `persistent://public/default/py-allocations-${suffix}`;
const supplier = Wallet.createRandom();
const customer = Wallet.createRandom();
// Funded like the parties: the Allocator chooses only a Mediator that can cover its bond r·(P + D).
const mediatorWallet = Wallet.createRandom();
const mediator = mediatorWallet.address as Address;
let m: DeployedMarket;
let allocator: JsonRpcSigner;
let bus: WebSocketMessageBus;

beforeAll(async () => {
  ensurePython();
  const accounts = await provider.listAccounts();
  const deployer = accounts[0]!;
  allocator = accounts[9]!;
  m = await deployMarket(deployer);
  for (const w of [supplier, customer, mediatorWallet]) {
    await (await deployer.sendTransaction({ to: w.address, value: parseEther("1") })).wait();
    const p = new NonceManager(w.connect(provider));
    const token = m.token.connect(p) as Contract;
    await (await token.getFunction("mint")(w.address, 10n ** 24n)).wait();
    await (await token.getFunction("approve")(m.marketAddress, 10n ** 24n)).wait();
    await (await (m.market.connect(p) as Contract).getFunction("deposit")(10n ** 24n)).wait();
  }
  const admin = new PulsarAdmin({ url: pulsar.webUrl, token: pulsar.adminToken });
  for (const t of [offersTopic, allocationsTopic]) await admin.createTopic(t);
  for (const w of [supplier, customer]) {
    await admin.grantTopic(offersTopic, w.address.toLowerCase(), ["produce", "consume"]);
    await admin.grantTopic(allocationsTopic, w.address.toLowerCase(), ["consume"]);
  }
  bus = new WebSocketMessageBus({ url: pulsar.webUrl, token: pulsar.adminToken });
}, 600_000);

afterAll(async () => {
  await bus?.close();
  provider.destroy();
});

describe("a client written from spec/ only", () => {
  it("posts a Supplier and a Customer offer with Pulsar's Python client and reads their signed allocation", async () => {
    const secret = new Uint8Array(Buffer.from(pulsar.tokenSecret, "base64"));
    const start = Math.floor(Date.now() / 1000) + 120;
    const input = {
      url: pulsar.serviceUrl,
      offers: offersTopic,
      allocations: allocationsTopic,
      chainId: m.domain.chainId.toString(),
      market: m.marketAddress,
      mediator,
      start,
      end: start + 3_600,
      timeoutSeconds: 60,
      supplier: { key: supplier.privateKey, token: await mintParticipantToken(secret, supplier.address) },
      customer: { key: customer.privateKey, token: await mintParticipantToken(secret, customer.address) },
    };
    const child = spawn(python, [conformanceClient], {
      stdio: ["pipe", "pipe", "inherit"],
    });
    child.stdin.end(JSON.stringify(input));
    let stdout = "";
    child.stdout.on("data", (d) => {
      stdout += d;
    });
    const exited = new Promise<number>((resolve) => child.on("exit", (code) => resolve(code ?? -1)));

    // The Allocator: its offer round every half second, front door on, until the client is done.
    const names = tableNames(`py-${suffix}-`);
    const client = dynamoDbClient(inject("dynamodbEndpoint"));
    await createTables(client, names);
    const participants = new MemoryParticipants();
    participants.admit(supplier.address as Address, "supplier");
    participants.admit(customer.address as Address, "customer");
    const deps = {
      source: new PulsarOfferSource(bus, offersTopic, 300),
      registry: new DynamoAllocatorRegistry(documentClient(client), names),
      publisher: new PulsarAllocationPublisher(bus, allocationsTopic, allocator, m.domain),
      frontDoor: {
        balances: new ContractFreeBalances(provider, m.marketAddress),
        standing: new MemoryStandingRegistry(),
        participants,
      },
    };
    const fees = await readMarketFees(provider, m.marketAddress);
    const config = {
      domain: m.domain,
      allocator: (await allocator.getAddress()) as Address,
      penaltyRate: fees.penaltyRate,
      frontDoor: { fees },
    };
    let done = false;
    let allocations = 0;
    void exited.then(() => {
      done = true;
    });
    while (!done) {
      allocations += (await runAllocatorRound(deps, config, Date.now())).allocations;
      await new Promise((r) => setTimeout(r, 500));
    }

    expect(await exited, stdout).toBe(0);
    const result = stdout.split("\n").find((line) => line.startsWith("RESULT "));
    const out = JSON.parse(result?.slice("RESULT ".length) ?? "null") as {
      allocation: unknown;
      allocationId: string;
      signer: string;
      recovered: string;
      customerOfferId: string;
    };
    const a: Allocation = parse(schema, out.allocation, "Allocation");
    expect(allocations).toBeGreaterThanOrEqual(1);
    expect(out.recovered).toBe(await allocator.getAddress());
    expect(out.signer).toBe(await allocator.getAddress());
    expect(a.customer).toBe(customer.address);
    expect(a.suppliers).toEqual([supplier.address]);
    expect(a.customerOffer).toBe(out.customerOfferId);
    // The client's EIP-712 digest is the code's: the allocation id both sides compute agrees.
    expect(out.allocationId).toBe(allocationId(m.domain, a));
  }, 180_000);
});
