// The agents' state machine on in-memory fakes (bus, chain): what an agent accepts, and the timeout
// exit of every waiting state — a lapsed allocation, and the signing, reveal and mediation deadlines
// expired on-chain by whichever party sees them — plus resuming from the store after a restart.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { allocationChannels, DEFAULT_LAYOUT, marketChannels } from "@surplus/adapters/pulsar";
import {
  type Address,
  type Allocation,
  AllocationState,
  allocationId,
  type Bytes32,
  checklistCommitment,
  gamma,
  type MarketDomain,
  SCHEMA_VERSION,
  signEnvelope,
  testSeqsHash,
  toWire,
} from "@surplus/core";
import { type Signer, Wallet } from "ethers";
import { afterEach, describe, expect, it } from "vitest";
import {
  type ChainRecord,
  CustomerAgent,
  type MarketChain,
  SupplierAgent,
  serviceHash,
  type TxOutcome,
} from "../src/index.ts";
import { MemoryBus } from "./support/memory-bus.ts";

const domain: MarketDomain = {
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};
const channels = marketChannels(DEFAULT_LAYOUT);
const allocator = Wallet.createRandom();
const supplier = Wallet.createRandom();
const echo = new Uint8Array(readFileSync(new URL("../build/echo.wasm", import.meta.url)));
const WINDOWS = { signing: 30, reveal: 60, mediation: 90 };

class FakeChain implements MarketChain {
  readonly records = new Map<Bytes32, ChainRecord>();
  nowS = Math.floor(Date.now() / 1000);
  readonly calls: string[] = [];
  async recordOf(id: Bytes32): Promise<ChainRecord> {
    return (
      this.records.get(id) ?? {
        state: AllocationState.None,
        deadline: 0,
        suppliers: 0,
        disputed: 0,
        mediating: 0,
      }
    );
  }
  async now() {
    return this.nowS;
  }
  async windows() {
    return WINDOWS;
  }
  #tx(call: string): Promise<TxOutcome> {
    this.calls.push(call);
    return Promise.resolve({ hash: `0x${"00".repeat(32)}`, gasUsed: 1n });
  }
  /** The arguments of the last settle: (a, salt, seqsHash, γ_c, results, disputed). */
  settled: unknown[] | undefined;
  settle = (...args: unknown[]) => {
    this.settled = args;
    return this.#tx("settle");
  };
  mediate = () => this.#tx("mediate");
  expire = () => this.#tx("expire");
}

function allocationFor(suppliers: Address[], nonce: bigint, from = allocator): Allocation {
  const now = Math.floor(Date.now() / 1000);
  return {
    schemaVersion: SCHEMA_VERSION,
    allocator: from.address as Address,
    customer: Wallet.createRandom().address as Address,
    suppliers,
    mediator: Wallet.createRandom().address as Address,
    customerOffer: `0x${"11".repeat(32)}`,
    supplierOffers: suppliers.map(() => `0x${"22".repeat(32)}` as Bytes32),
    serviceHash: `0x${"33".repeat(32)}`,
    start: now + 5,
    end: now + 35,
    pricePerMi: 10n ** 9n,
    miPerInput: 1,
    inputsPerSecond: 10,
    testCount: 6,
    minReplicas: 1,
    nonce,
  };
}

const dirs: string[] = [];
const agents: Array<SupplierAgent | CustomerAgent> = [];
afterEach(async () => {
  await Promise.all(agents.splice(0).map((a) => a.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** What every agent of these tests shares: the fakes, the market, a trusted Allocator, fast ticks. */
function agentBase(
  name: string,
  signer: Signer,
  bus: MemoryBus,
  chain: FakeChain,
  dir: string,
  service: Uint8Array,
) {
  return {
    name,
    signer,
    bus,
    domain,
    chain,
    channels,
    layout: DEFAULT_LAYOUT,
    dataDir: dir,
    services: { get: async () => service },
    allocators: [allocator.address as Address],
    tickMs: 50,
  };
}

function startSupplier(bus: MemoryBus, chain: FakeChain, dataDir?: string) {
  const dir = dataDir ?? mkdtempSync(join(tmpdir(), "agent-"));
  if (!dataDir) dirs.push(dir);
  const agent = new SupplierAgent({
    ...agentBase("s", supplier, bus, chain, dir, echo),
    offer: { capacityMips: 1000, ramMb: 256, minPricePerMi: 1n, mediators: [allocator.address as Address] },
  });
  agents.push(agent);
  return { agent, dir };
}

async function publishAllocation(bus: MemoryBus, a: Allocation, signer = allocator): Promise<Bytes32> {
  const env = await signEnvelope(signer, domain, "Allocation", a, Date.now());
  const p = await bus.createProducer(channels.allocations);
  await p.send({ payload: new TextEncoder().encode(toWire(env)), properties: { type: "Allocation" } });
  return allocationId(domain, a);
}

const until = async (what: string, ok: () => boolean) => {
  const end = Date.now() + 5_000;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
};

describe("a role agent", () => {
  it("accepts the allocations that name it from a trusted Allocator, and nothing else; bad messages do not stop it", async () => {
    const bus = new MemoryBus();
    const chain = new FakeChain();
    const { agent } = startSupplier(bus, chain);
    await agent.start();
    const me = supplier.address as Address;
    const garbage = await bus.createProducer(channels.allocations);
    await garbage.send({ payload: new Uint8Array([1, 2, 3]), properties: { type: "Allocation" } });
    const stranger = Wallet.createRandom();
    await publishAllocation(bus, allocationFor([me], 1n, stranger), stranger);
    await publishAllocation(bus, allocationFor([Wallet.createRandom().address as Address], 2n));
    // Names it and comes from the trusted Allocator, but was altered after signing: refused as bad.
    const forged = JSON.parse(
      toWire(await signEnvelope(allocator, domain, "Allocation", allocationFor([me], 4n), Date.now())),
    );
    forged.body.customer = Wallet.createRandom().address;
    await garbage.send({
      payload: new TextEncoder().encode(JSON.stringify(forged)),
      properties: { type: "Allocation" },
    });
    const id = await publishAllocation(bus, allocationFor([me], 3n));
    await until("its Accept", () => bus.messages(channels.accept).length > 0);
    await new Promise((r) => setTimeout(r, 100));
    const accepts = bus.messages(channels.accept).map((m) => JSON.parse(new TextDecoder().decode(m.payload)));
    expect(accepts).toHaveLength(1);
    expect(accepts[0].body).toMatchObject({ allocationId: id, account: me });
    expect(agent.counters).toMatchObject({ badMessages: 2, refused: 1 });
    expect([...agent.allocations.keys()]).toEqual([id]);
  });

  it("lets an allocation that was never opened lapse once its period is over", async () => {
    const bus = new MemoryBus();
    const chain = new FakeChain();
    const { agent } = startSupplier(bus, chain);
    await agent.start();
    const a = allocationFor([supplier.address as Address], 4n);
    const id = await publishAllocation(bus, a);
    await until("the accept", () => agent.allocations.get(id)?.state.phase === "accepted");
    chain.nowS = a.end + 1;
    await until("the lapse", () => agent.allocations.get(id)?.state.phase === "lapsed");
    expect(chain.calls).toEqual([]);
  });

  it.each([
    ["Signing past its deadline", { state: AllocationState.Signing, deadline: 100 }, 100],
    [
      "MediationRequested past its deadline",
      { state: AllocationState.MediationRequested, deadline: 200 },
      200,
    ],
  ])("expires an allocation in %s", async (_name, record, nowS) => {
    const bus = new MemoryBus();
    const chain = new FakeChain();
    const { agent } = startSupplier(bus, chain);
    await agent.start();
    const id = await publishAllocation(bus, allocationFor([supplier.address as Address], 5n));
    await until("the accept", () => agent.allocations.get(id)?.state.phase === "accepted");
    chain.records.set(id, { suppliers: 1, disputed: 0, mediating: 0, ...record });
    chain.nowS = nowS - 1;
    await new Promise((r) => setTimeout(r, 200));
    expect(chain.calls).toEqual([]); // not before the deadline
    chain.nowS = nowS;
    await until("the expire", () => chain.calls.includes("expire"));
  });

  it("expires a Running allocation whose Customer never revealed, once the reveal window is over", async () => {
    const bus = new MemoryBus();
    const chain = new FakeChain();
    const { agent } = startSupplier(bus, chain);
    await agent.start();
    const a = allocationFor([supplier.address as Address], 6n);
    const id = await publishAllocation(bus, a);
    await until("the accept", () => agent.allocations.get(id)?.state.phase === "accepted");
    chain.records.set(id, {
      state: AllocationState.Running,
      deadline: 0,
      suppliers: 1,
      disputed: 0,
      mediating: 0,
    });
    chain.nowS = a.end + WINDOWS.reveal - 1;
    await new Promise((r) => setTimeout(r, 200));
    expect(chain.calls).toEqual([]);
    chain.nowS = a.end + WINDOWS.reveal;
    await until("the expire", () => chain.calls.includes("expire"));
  });

  it("offers again a minute before its offer ends, for the window right after it: never two at once", async () => {
    const bus = new MemoryBus();
    const chain = new FakeChain();
    const { agent } = startSupplier(bus, chain);
    await agent.start();
    const offers = () =>
      bus.messages(channels.offers).map((m) => JSON.parse(new TextDecoder().decode(m.payload)).body);
    const first = offers()[0];
    chain.nowS = Number(first.end) - 61;
    await new Promise((r) => setTimeout(r, 200));
    expect(offers()).toHaveLength(1);
    chain.nowS = Number(first.end) - 60;
    await until("the next offer", () => offers().length === 2);
    const next = offers()[1];
    expect(Number(next.start)).toBe(Number(first.end));
    expect(Number(next.end) - Number(next.start)).toBe(Number(first.end) - Number(first.start));
  });

  it("resumes its allocations from the store after a restart, without accepting again", async () => {
    const bus = new MemoryBus();
    const chain = new FakeChain();
    const first = startSupplier(bus, chain);
    await first.agent.start();
    const id = await publishAllocation(bus, allocationFor([supplier.address as Address], 7n));
    await until("the accept", () => first.agent.allocations.get(id)?.state.phase === "accepted");
    await first.agent.stop();
    const second = startSupplier(bus, chain, first.dir);
    await second.agent.start();
    expect(second.agent.allocations.get(id)?.state.phase).toBe("accepted");
    await new Promise((r) => setTimeout(r, 200));
    expect(bus.messages(channels.accept)).toHaveLength(1);
    // It offered once per start: a restart keeps the offer that is still open.
    expect(bus.messages(channels.offers)).toHaveLength(1);
  });

  it("a Customer commits in its Accept to secret positions of its live stream, without running anything first", async () => {
    // test/flaky traps on inputs starting with 0xfe: every live input here traps. The tests are
    // positions of the stream, not samples: there is nothing to answer before the stream, and the
    // Customer's own failure at a position will stand for the empty output, as Suppliers publish it.
    const flaky = new Uint8Array(readFileSync(new URL("../build/test/flaky.wasm", import.meta.url)));
    const customer = Wallet.createRandom();
    const dir = mkdtempSync(join(tmpdir(), "agent-"));
    dirs.push(dir);
    const bus = new MemoryBus();
    const agent = new CustomerAgent({
      ...agentBase("c", customer, bus, new FakeChain(), dir, flaky),
      job: {
        wasm: flaky,
        serviceName: "flaky",
        miPerInput: 1,
        ramMb: 64,
        inputsPerSecond: 10,
        seconds: 30,
        startInSeconds: 60,
        maxPricePerMi: 10n ** 9n,
        replicas: 1,
        minReplicas: 1,
        mediators: [allocator.address as Address],
      },
      source: { next: async () => new Uint8Array([0xfe]) },
    });
    agents.push(agent);
    await agent.start();
    const a = {
      ...allocationFor([supplier.address as Address], 8n),
      customer: customer.address as Address,
      serviceHash: serviceHash(flaky),
    };
    const id = await publishAllocation(bus, a);
    await until("its Accept", () => bus.messages(channels.accept).length > 0);
    const plan = agent.allocations.get(id)!.state.plan;
    const seqs = plan.testSeqs.map(BigInt);
    expect(seqs).toHaveLength(a.testCount);
    expect(new Set(seqs).size).toBe(a.testCount);
    for (const seq of seqs)
      expect(seq >= 0n && seq < BigInt(a.inputsPerSecond * (a.end - a.start))).toBe(true);
    const accept = JSON.parse(new TextDecoder().decode(bus.messages(channels.accept)[0]!.payload));
    expect(accept.body.commitment).toBe(checklistCommitment(id, plan.salt, seqs));
  });

  it("a Customer runs its own test positions as they pass, freezes its dispute before the reveal and settles with it", async () => {
    const customer = Wallet.createRandom();
    const dir = mkdtempSync(join(tmpdir(), "agent-"));
    dirs.push(dir);
    const bus = new MemoryBus();
    const chain = new FakeChain();
    let k = 0;
    const agent = new CustomerAgent({
      ...agentBase("c", customer, bus, chain, dir, echo),
      job: {
        wasm: echo,
        serviceName: "echo",
        miPerInput: 1,
        ramMb: 64,
        inputsPerSecond: 20,
        seconds: 2,
        maxPricePerMi: 10n ** 9n,
        replicas: 2,
        mediators: [allocator.address as Address],
      },
      source: { next: async () => new Uint8Array([k++ & 0xff, 7]) },
      resultWaitMs: 200,
    });
    agents.push(agent);
    await agent.start();
    const live = Wallet.createRandom().address as Address;
    const late = Wallet.createRandom().address as Address;
    const now = Math.floor(Date.now() / 1000);
    const a = {
      ...allocationFor([live, late], 11n),
      customer: customer.address as Address,
      serviceHash: serviceHash(echo),
      start: now + 1,
      end: now + 3,
      inputsPerSecond: 20,
      testCount: 5,
    };
    const id = await publishAllocation(bus, a);
    await until("its Accept", () => bus.messages(channels.accept).length > 0);
    chain.records.set(id, {
      state: AllocationState.Running,
      deadline: 0,
      suppliers: 0b11,
      disputed: 0,
      mediating: 0,
    });
    const ch = allocationChannels(id, a.suppliers, DEFAULT_LAYOUT);
    // One replica echoes every input as it comes; the other stays silent until the checklist is
    // out, then answers every test position right (what a front-running lazy Supplier does).
    const outputs = async (who: Address, batch: Array<{ seq: bigint; payload: Uint8Array }>) => {
      const p = await bus.createProducer(ch.outputs[who.toLowerCase()]!);
      for (const o of batch) await p.send({ payload: o.payload, properties: { seq: o.seq.toString() } });
    };
    const inputs = bus.messages(ch.input);
    let echoed = 0;
    const stop = Date.now() + 20_000;
    while (chain.settled === undefined && Date.now() < stop) {
      const fresh = inputs.slice(echoed).map((m) => ({ seq: BigInt(m.properties.seq!), payload: m.payload }));
      echoed += fresh.length;
      if (fresh.length) await outputs(live, fresh);
      const checklist = bus.messages(ch.checklist)[0];
      if (checklist && bus.messages(ch.outputs[late.toLowerCase()]!).length === 0) {
        const c = JSON.parse(new TextDecoder().decode(checklist.payload)) as { testSeqs: string[] };
        await outputs(
          late,
          c.testSeqs.map((seq) => ({ seq: BigInt(seq), payload: inputs[Number(seq)]!.payload })),
        );
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(chain.settled).toBeDefined();
    const plan = agent.allocations.get(id)!.state.plan;
    const testSeqs = plan.testSeqs.map(BigInt);
    const [, salt, seqsHash, gammaC, results, disputed] = chain.settled!;
    expect(inputs).toHaveLength(40);
    expect(salt).toBe(plan.salt);
    expect(seqsHash).toBe(testSeqsHash(testSeqs));
    expect(checklistCommitment(id, salt as Bytes32, testSeqs)).toBe(plan.commitment);
    // γ_c over what the echo service gives for the inputs the stream carried at those positions.
    expect(gammaC).toBe(
      gamma(
        id,
        plan.salt,
        testSeqs.map((seq) => ({ seq, output: inputs[Number(seq)]!.payload })),
      ),
    );
    expect(results).toHaveLength(2);
    // The late answers came after the freeze: that replica is disputed, the live one is not.
    expect(disputed).toBe(0b10);
  }, 30_000);
});
