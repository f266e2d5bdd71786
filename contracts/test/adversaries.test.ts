// Issue 14: each threat as the attack that worked on the market before the fix (commit 73218d5 has
// the PoC versions, each passing there), now shown to fail. Ordering attacks run with automine off
// and the attacker paying a higher priority tip than its victim.
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import { AllocationStateCode, gamma, seal } from "@surplus/core";
import { type Contract, MaxUint256, TypedDataEncoder } from "ethers";
import { beforeEach, describe, expect, it } from "vitest";
import { CloseReason, deployMarket, NO_RESULT, signResult } from "../src/index.ts";
import {
  as,
  balances,
  createNetwork,
  delta,
  deployFunded,
  eventsOf,
  expectRevert,
  type Market,
  makeAllocation,
  type Network,
  openRunning,
  results,
  settleArgs,
  signatures,
  stateOf,
  type TestAllocation,
  testAllocation,
  testOutputs,
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

const GWEI = 10n ** 9n;
const sum = (d: Record<string, bigint>) => Object.values(d).reduce((a, b) => a + b, 0n);

/** Sends `name(args)` from `signer` into the mempool (automine off) with a priority tip. */
async function send(signer: HardhatEthersSigner, name: string, args: readonly unknown[], tipGwei: bigint) {
  const tx = await as(m, signer)
    .getFunction(name)
    .send(...args, {
      gasLimit: 2_000_000n,
      maxPriorityFeePerGas: tipGwei * GWEI,
      maxFeePerGas: 1_000n * GWEI,
    });
  return tx.hash as string;
}

/** Mines one block with everything pending; returns each transaction's status and position. */
async function mine(hashes: readonly string[]): Promise<Array<{ ok: boolean; index: number }>> {
  await net.provider.request({ method: "evm_mine", params: [] });
  const out = [];
  for (const h of hashes) {
    const r = (await net.ethers.provider.getTransactionReceipt(h))!;
    out.push({ ok: r.status === 1, index: r.index });
  }
  return out;
}

async function withoutAutomine<T>(body: () => Promise<T>): Promise<T> {
  await net.provider.request({ method: "evm_setAutomine", params: [false] });
  try {
    return await body();
  } finally {
    await net.provider.request({ method: "evm_setAutomine", params: [true] });
  }
}

async function runningAllocation(replicas = 1): Promise<TestAllocation> {
  const d = testAllocation(m, await makeAllocation(m, { replicas }));
  await openRunning(m, d);
  return d;
}

describe("threat 1: settle closes the dispute window, and anyone may call it", () => {
  it("a lazy Supplier front-running the Customer's settle (higher tip) reverts; the Customer's dispute stands and the Supplier is fined", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 1 }));
    const before = await balances(m);
    await openRunning(m, d);
    await toEnd(m, d);
    // The lazy Supplier computed the test outputs late: its seal matches γ_c.
    const res = await results(m, d);
    const [front, victim] = await withoutAutomine(async () => {
      const victimTx = await send(m.parties.customer, "settle", settleArgs(d, d.outputs.gamma, res, 0b1), 1n);
      const frontTx = await send(
        m.parties.suppliers[0]!,
        "settle",
        settleArgs(d, d.outputs.gamma, res, 0),
        50n,
      );
      return mine([frontTx, victimTx]);
    });
    expect(front!.index).toBeLessThan(victim!.index); // the tip bought the front of the block …
    expect(front!.ok).toBe(false); // … and a revert: only the Customer settles
    expect(victim!.ok).toBe(true);
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.MediationRequested);
    // The Mediator finds its live outputs at test positions wrong: D + F lost, no P.
    await (await as(m, m.parties.mediator).getFunction("mediate")(d.terms, d.outputs.gamma, 0b1, res)).wait();
    const change = delta(before, await balances(m));
    expect(change.s0).toBe(-(d.amounts.deposit + m.parameters.allocatorFee)); // nothing back of its lock
    expect(sum(change)).toBe(0n);
  });

  it("nobody but the Customer can settle, with any results: honest Suppliers cannot be pushed into mediation", async () => {
    const d = await runningAllocation(2);
    await toEnd(m, d);
    for (const who of [
      m.parties.outsider,
      m.parties.suppliers[0]!,
      m.parties.mediator,
      m.parties.allocator,
    ]) {
      await expectRevert(
        as(m, who).getFunction("settle")(...settleArgs(d, d.outputs.gamma, [NO_RESULT, NO_RESULT])),
        "UnauthorizedCaller",
        [d.id, who.address, m.parties.customer.address],
      );
    }
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Running);
  });
});

describe("threat 2: honest Suppliers paid for a silent Mediator", () => {
  it("a false dispute with a silent Mediator: the honest Supplier still gains P − F; the Customer+Mediator coalition loses", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 1 }));
    const before = await balances(m);
    await openRunning(m, d);
    await toEnd(m, d);
    await (
      await as(m, m.parties.customer).getFunction("settle")(
        ...settleArgs(d, d.outputs.gamma, await results(m, d), 1),
      )
    ).wait();
    await net.networkHelpers.time.increase(m.parameters.mediationWindow);
    const rc = await (await as(m, m.parties.outsider).getFunction("expire")(d.terms)).wait();
    expect(eventsOf(m, rc).find((e) => e.name === "AllocationClosed")!.args.reason).toBe(
      BigInt(CloseReason.MediatorTimeout),
    );
    const { payment: P, deposit: D } = d.amounts;
    const { allocatorFee: F, mediatorFee: M } = m.parameters;
    const change = delta(before, await balances(m));
    expect(change.s0).toBe(P - F); // paid out of the Mediator's bond
    expect(change.customer).toBe(-F); // the service for free …
    expect(change.mediator).toBe(-(P + D)); // … bought with the Mediator's bond
    const coalition = change.customer! + change.mediator!;
    // Honest behaviour (no false dispute, settled): the Customer pays P + M + F, the Mediator earns M.
    expect(coalition).toBeLessThan(-(P + M + F) + M);
    expect(sum(change)).toBe(0n);
  });

  it("lazy Supplier + silent Mediator earn less together than with an honest verdict", async () => {
    // Silent path.
    const d = await runningAllocation(1);
    await toEnd(m, d);
    const res = await results(m, d); // the lazy Supplier's late seal matches
    const before = await balances(m);
    await (
      await as(m, m.parties.customer).getFunction("settle")(...settleArgs(d, d.outputs.gamma, res, 1))
    ).wait();
    await net.networkHelpers.time.increase(m.parameters.mediationWindow);
    await (await as(m, m.parties.outsider).getFunction("expire")(d.terms)).wait();
    const silent = delta(before, await balances(m));
    // Honest path, same terms from the same state.
    m = await net.networkHelpers.loadFixture(fixture);
    const e = await runningAllocation(1);
    await toEnd(m, e);
    const res2 = await results(m, e);
    const before2 = await balances(m);
    await (
      await as(m, m.parties.customer).getFunction("settle")(...settleArgs(e, e.outputs.gamma, res2, 1))
    ).wait();
    await (await as(m, m.parties.mediator).getFunction("mediate")(e.terms, e.outputs.gamma, 1, res2)).wait();
    const judged = delta(before2, await balances(m));
    const coalition = (c: Record<string, bigint>) => (c.s0 ?? 0n) + (c.mediator ?? 0n);
    expect(coalition(silent)).toBeLessThan(coalition(judged));
    expect(judged.s0).toBeUndefined(); // judged: the lazy Supplier gets nothing back
  });
});

describe("threat 3: the treasury as a party", () => {
  it.each(["mediator", "customer", "allocator", "supplier"] as const)(
    "open refuses the treasury as the %s",
    async (role) => {
      const treasury = m.parties.treasury.address as `0x${string}`;
      const a = await makeAllocation(m);
      const patched =
        role === "supplier" ? { ...a, suppliers: [treasury] } : ({ ...a, [role]: treasury } as typeof a);
      const d = testAllocation(m, patched);
      const opener = role === "allocator" ? m.parties.treasury : m.parties.allocator;
      await expectRevert(
        as(m, opener).getFunction("open")(d.terms, await signatures(m, d)),
        "TreasuryIsParty",
        [treasury],
      );
    },
  );
});

describe("threat 4: any ERC-20 accepted", () => {
  it("a 1 % fee-on-transfer token: deposits are credited what arrived, the market never owes more than it holds", async () => {
    const fee = (await net.ethers.deployContract("FeeOnTransferToken")) as unknown as Contract;
    const deployed = await deployMarket(m.parties.treasury, { token: await fee.getAddress() });
    const market = (p: HardhatEthersSigner) => deployed.market.connect(p) as Contract;
    const [a, b] = [m.parties.customer, m.parties.outsider];
    for (const p of [a, b]) {
      await (await (fee.connect(p) as Contract).getFunction("mint")(p.address, 1000n)).wait();
      await (
        await (fee.connect(p) as Contract).getFunction("approve")(deployed.marketAddress, MaxUint256)
      ).wait();
      await (await market(p).getFunction("deposit")(1000n)).wait();
    }
    expect(await deployed.market.getFunction("balanceOf")(a.address)).toBe(990n);
    const held: bigint = await fee.getFunction("balanceOf")(deployed.marketAddress);
    expect(held).toBe(1980n);
    // Every credited wei can be withdrawn; the last withdrawal does not revert.
    await (await market(a).getFunction("withdraw")(990n)).wait();
    await (await market(b).getFunction("withdraw")(990n)).wait();
    expect(await fee.getFunction("balanceOf")(deployed.marketAddress)).toBe(0n);
  });

  it("the token is fixed at construction: no function changes it", async () => {
    const mutating: string[] = [];
    m.market.interface.forEachFunction((f) => {
      if (!f.constant) mutating.push(f.name);
    });
    expect(mutating.sort()).toEqual(["deposit", "expire", "mediate", "open", "settle", "sign", "withdraw"]);
    expect(await m.market.getFunction("token")()).toBe(m.tokenAddress);
  });
});

describe("threat 5: Accepts never expire, and bounds are loose", () => {
  it("a zero price is refused", async () => {
    const d = testAllocation(m, { ...(await makeAllocation(m)), pricePerMi: 0n });
    await expectRevert(
      as(m, m.parties.allocator).getFunction("open")(d.terms, await signatures(m, d)),
      "ZeroPrice",
    );
  });

  it("Accepts collected before the start cannot open the allocation near its end (or at all once it started)", async () => {
    const d = testAllocation(m, await makeAllocation(m, { duration: 200 }));
    const sigs = await signatures(m, d); // signed now …
    await net.networkHelpers.time.increaseTo(d.a.end - 2); // … used 2 s before the end
    await expectRevert(as(m, m.parties.allocator).getFunction("open")(d.terms, sigs), "InvalidWindow");
  });

  it("an end far in the future or a start far ahead is refused (deposits are not locked for ever)", async () => {
    const now = await net.networkHelpers.time.latest();
    const a = await makeAllocation(m);
    const long = testAllocation(m, { ...a, end: a.start + 31 * 86_400 });
    await expectRevert(
      as(m, m.parties.allocator).getFunction("open")(long.terms, await signatures(m, long)),
      "InvalidWindow",
    );
    const far = testAllocation(m, { ...a, start: now + 8 * 86_400, end: now + 8 * 86_400 + 200 });
    await expectRevert(
      as(m, m.parties.allocator).getFunction("open")(far.terms, await signatures(m, far)),
      "InvalidWindow",
    );
  });
});

describe("threat 6: γ not bound to its allocation", () => {
  it("a γ revealed in one allocation is worthless in another with the same salt and test outputs", async () => {
    const first = testAllocation(m, await makeAllocation(m));
    const second0 = testAllocation(m, await makeAllocation(m));
    // The Customer reuses its salt and test positions (and the outputs are the same).
    const second: TestAllocation = {
      ...second0,
      outputs: testOutputs(second0.id, second0.a.testCount, first.outputs.salt),
    };
    expect(second.outputs.gamma).not.toBe(first.outputs.gamma);
    await openRunning(m, first);
    await openRunning(m, second);
    await toEnd(m, second);
    await (
      await as(m, m.parties.customer).getFunction("settle")(
        ...settleArgs(first, first.outputs.gamma, await results(m, first)),
      )
    ).wait();
    // The lazy Supplier of the second allocation seals the γ revealed by the first.
    const lazy = await signResult(m.parties.suppliers[0]!, m.domain, second.id, first.outputs.gamma);
    const rc = await (
      await as(m, m.parties.customer).getFunction("settle")(
        ...settleArgs(second, second.outputs.gamma, [lazy]),
      )
    ).wait();
    expect(eventsOf(m, rc).find((e) => e.name === "AllocationSettled")!.args.matched).toBe(0n);
    expect(await stateOf(m, second.id)).toBe(AllocationStateCode.MediationRequested);
    expect(gamma(second.id, first.outputs.salt, first.outputs.items)).toBe(second.outputs.gamma);
    expect(lazy.seal).toBe(
      seal(m.parties.suppliers[0]!.address as `0x${string}`, second.id, first.outputs.gamma),
    );
  });
});

describe("threat 7: cheap griefs", () => {
  it("a front-run `sign` (higher tip) no longer makes the Allocator's batch revert", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 2 }));
    const all = await signatures(m, d);
    await (
      await as(m, m.parties.allocator).getFunction("open")(d.terms, {
        ...all,
        mediator: "0x",
        suppliers: ["0x", "0x"],
      })
    ).wait();
    const [grief, batch] = await withoutAutomine(async () => {
      const batchTx = await send(m.parties.allocator, "sign", [d.terms, { ...all, customer: "0x" }], 1n);
      const griefTx = await send(
        m.parties.outsider,
        "sign",
        [d.terms, { ...all, customer: "0x", suppliers: ["0x"] }],
        50n,
      );
      return mine([griefTx, batchTx]);
    });
    expect(grief!.index).toBeLessThan(batch!.index);
    expect(grief!.ok).toBe(true);
    expect(batch!.ok).toBe(true);
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Running);
  });

  it("a signer that withdraws before `open` does not make it revert: it counts as not signed", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 1 }));
    const sigs = await signatures(m, d);
    const s0 = m.parties.suppliers[0]!;
    const free: bigint = await m.market.getFunction("balanceOf")(s0.address);
    await (await as(m, s0).getFunction("withdraw")(free)).wait();
    await (await as(m, m.parties.allocator).getFunction("open")(d.terms, sigs)).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Signing);
    const [, , suppliers] = await m.market.getFunction("recordOf")(d.id);
    expect(suppliers).toBe(0n);
  });

  it("D · timeoutFineBps beyond 2^256 does not block `mediate` (full-precision mulDiv)", async () => {
    const big = 10n ** 75n;
    for (const p of [m.parties.customer, m.parties.mediator, m.parties.suppliers[0]!]) {
      await (await (m.token.connect(p) as Contract).getFunction("mint")(p.address, big)).wait();
      await (
        await (m.token.connect(p) as Contract).getFunction("approve")(m.marketAddress, MaxUint256)
      ).wait();
      await (await as(m, p).getFunction("deposit")(big)).wait();
    }
    const a = await makeAllocation(m, { testCount: 1, duration: 1 });
    // π_s = 10^71, D = ρ·π_s = 10^74: D · 2,500 > 2^256 ≈ 1.16·10^77.
    const d = testAllocation(m, { ...a, inputsPerSecond: 1, miPerInput: 1000, pricePerMi: 10n ** 68n });
    expect(d.amounts.deposit * m.parameters.timeoutFineBps).toBeGreaterThan(MaxUint256);
    await openRunning(m, d);
    await toEnd(m, d);
    await (
      await as(m, m.parties.customer).getFunction("settle")(...settleArgs(d, d.outputs.gamma, [NO_RESULT]))
    ).wait();
    const rc = await (
      await as(m, m.parties.mediator).getFunction("mediate")(d.terms, d.outputs.gamma, 0, [NO_RESULT])
    ).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Closed);
    // The silent Supplier gets D − ⌊D·φ/10^4⌋, exact to the wei (BigInt has no overflow).
    const closed = eventsOf(m, rc).find((e) => e.name === "AllocationClosed")!;
    const D = d.amounts.deposit;
    expect(closed.args.supplierPayouts[0]).toBe(D - (D * m.parameters.timeoutFineBps) / 10_000n);
  });

  it("the EIP-712 domain separator is the one of the current chain id", async () => {
    const sep: string = await m.market.getFunction("domainSeparator")();
    expect(sep).toBe(
      TypedDataEncoder.hashDomain({
        name: "Surplus",
        version: "1",
        chainId: m.domain.chainId,
        verifyingContract: m.marketAddress,
      }),
    );
  });
});
