// One describe per transition: which states it accepts, its deadline, and who may call it.
import { AllocationStateCode, type Bytes32 } from "@surplus/core";
import { type Contract, hexlify, randomBytes } from "ethers";
import { beforeEach, describe, expect, it } from "vitest";
import { deployMarket, signAccept } from "../src/index.ts";
import {
  as,
  balances,
  createNetwork,
  delta,
  deployFunded,
  expectRevert,
  type Market,
  makeAllocation,
  type Network,
  NO_SIGNATURES,
  openRunning,
  results,
  settleArgs,
  signatures,
  stateOf,
  type TestAllocation,
  testAllocation,
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

const by = (signer: keyof Market["parties"] | number): Contract =>
  typeof signer === "number" ? as(m, m.parties.suppliers[signer]!) : as(m, m.parties[signer] as never);
const fn = (signer: keyof Market["parties"] | number, name: string) => by(signer).getFunction(name);
const random32 = () => hexlify(randomBytes(32)) as Bytes32;

async function runningAllocation(replicas = 1): Promise<TestAllocation> {
  const d = testAllocation(m, await makeAllocation(m, { replicas }));
  await openRunning(m, d);
  return d;
}

describe("constructor", () => {
  it("rejects a signing window longer than the reveal window (a late Running must still settle)", async () => {
    const [deployer] = await net.ethers.getSigners();
    const deploying = deployMarket(deployer!, {
      parameters: { signingWindow: 7_200n, revealWindow: 3_600n },
    });
    await expectRevert(deploying, "InvalidParameter", ["signingWindow"]);
  });
});

describe("deposit / withdraw", () => {
  it("rejects zero amounts", async () => {
    await expectRevert(fn("customer", "deposit")(0), "ZeroAmount");
    await expectRevert(fn("customer", "withdraw")(0), "ZeroAmount");
  });

  it("withdraws free balance, never locked funds", async () => {
    const d = await runningAllocation();
    const free: bigint = await m.market.getFunction("balanceOf")(m.parties.customer.address);
    await expectRevert(fn("customer", "withdraw")(free + 1n), "InsufficientBalance", [
      m.parties.customer.address,
      free + 1n,
      free,
    ]);
    await (await fn("customer", "withdraw")(free)).wait();
    expect(await m.market.getFunction("balanceOf")(m.parties.customer.address)).toBe(0n);
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Running);
  });
});

describe("open", () => {
  it("only the allocation's Allocator may open it", async () => {
    const d = testAllocation(m, await makeAllocation(m));
    await expectRevert(fn("customer", "open")(d.terms, await signatures(m, d)), "UnauthorizedCaller", [
      d.id,
      m.parties.customer.address,
      m.parties.allocator.address,
    ]);
  });

  it("cannot open the same terms twice", async () => {
    const d = await runningAllocation();
    await expectRevert(fn("allocator", "open")(d.terms, NO_SIGNATURES), "AllocationUnexpectedState", [
      d.id,
      AllocationStateCode.Running,
      AllocationStateCode.None,
    ]);
  });

  it("with some signatures: Signing, and only the signers' deposits are locked", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 2 }));
    const before = await balances(m);
    await (
      await fn("allocator", "open")(d.terms, await signatures(m, d, { mediator: false, suppliers: [1] }))
    ).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Signing);
    expect(delta(before, await balances(m))).toEqual({
      customer: -d.amounts.customerLock,
      s1: -d.amounts.supplierLock,
    });
  });

  it("rejects a signature by someone else, or over another commitment", async () => {
    const d = testAllocation(m, await makeAllocation(m));
    const sigs = await signatures(m, d);
    await expectRevert(
      fn("allocator", "open")(d.terms, {
        ...sigs,
        mediator: await signAccept(m.parties.outsider, m.domain, d.id),
      }),
      "InvalidSignature",
      [d.id, m.parties.mediator.address],
    );
    await expectRevert(
      fn("allocator", "open")(d.terms, { ...sigs, commitment: random32() }),
      "InvalidSignature",
      [d.id, m.parties.customer.address],
    );
  });

  it("a signer without enough free balance counts as not signed: Signing, nothing of it locked", async () => {
    const d = testAllocation(m, await makeAllocation(m));
    const free: bigint = await m.market.getFunction("balanceOf")(m.parties.customer.address);
    await (await fn("customer", "withdraw")(free)).wait();
    const before = await balances(m);
    await (await fn("allocator", "open")(d.terms, await signatures(m, d))).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Signing);
    const [, , suppliers, customerSigned, mediatorSigned] = await m.market.getFunction("recordOf")(d.id);
    expect([suppliers, customerSigned, mediatorSigned]).toEqual([1n, false, true]);
    expect(delta(before, await balances(m))).toEqual({
      s0: -d.amounts.supplierLock,
      mediator: -d.amounts.mediatorLock,
    });
  });

  it.each([
    ["no Suppliers", { suppliers: [], supplierOffers: [] }, "InvalidSupplierCount"],
    ["misaligned offers", { supplierOffers: [] }, "LengthMismatch"],
    ["r_min = 0", { minReplicas: 0 }, "InvalidMinReplicas"],
    ["r_min > r", { minReplicas: 2 }, "InvalidMinReplicas"],
    ["end in the past", { start: 1, end: 2 }, "InvalidWindow"],
    ["start ≥ end", { end: 0 }, "InvalidWindow"],
    ["a start already passed (an Accept expires at start)", { start: "now" }, "InvalidWindow"],
    ["a start beyond maxStartDelay", { start: "far" }, "InvalidWindow"],
    ["a duration beyond maxDuration", { end: "long" }, "InvalidWindow"],
    ["a zero price", { pricePerMi: 0n }, "ZeroPrice"],
    ["the treasury as Mediator", { mediator: "treasury" }, "TreasuryIsParty"],
    ["the treasury as Customer", { customer: "treasury" }, "TreasuryIsParty"],
    ["the treasury as a Supplier", { suppliers: ["treasury"] }, "TreasuryIsParty"],
    ["n·ρ < λΔ (eq. 6)", { testCount: 1 }, "InvalidTestCount"],
    ["n > ρ (eq. 4)", { testCount: 1_001 }, "InvalidTestCount"],
    ["Customer is the Mediator", { mediator: "customer" }, "DuplicateParty"],
    ["a Supplier is the Customer", { suppliers: ["customer"] }, "DuplicateParty"],
  ] as const)("rejects terms with %s", async (_, patch, error) => {
    const a = await makeAllocation(m, { duration: 200 });
    const p = { ...patch } as Record<string, unknown>;
    if (p.mediator === "customer") p.mediator = a.customer;
    if (Array.isArray(p.suppliers) && p.suppliers[0] === "customer") p.suppliers = [a.customer];
    if (p.end === 0) p.end = a.start;
    const now = await net.networkHelpers.time.latest();
    if (p.start === "now") Object.assign(p, { start: now + 1, end: now + 201 }); // open mines at now + 1
    if (p.start === "far") Object.assign(p, { start: now + 7 * 86_400 + 10, end: now + 7 * 86_400 + 210 });
    if (p.end === "long")
      Object.assign(p, { end: a.start + 30 * 86_400 + 1, testCount: 1_000, inputsPerSecond: 0 });
    const treasury = m.parties.treasury.address as `0x${string}`;
    if (p.mediator === "treasury") p.mediator = treasury;
    if (p.customer === "treasury") p.customer = treasury;
    if (Array.isArray(p.suppliers) && p.suppliers[0] === "treasury") p.suppliers = [treasury];
    const d = testAllocation(m, { ...a, ...p } as typeof a);
    await expectRevert(fn("allocator", "open")(d.terms, NO_SIGNATURES), error);
  });

  it("rejects duplicate Suppliers and more than 16", async () => {
    const a = await makeAllocation(m, { replicas: 2 });
    const dup = testAllocation(m, { ...a, suppliers: [a.suppliers[0]!, a.suppliers[0]!] });
    await expectRevert(fn("allocator", "open")(dup.terms, NO_SIGNATURES), "DuplicateParty");
    const many = Array.from({ length: 17 }, () => hexlify(randomBytes(20)) as `0x${string}`);
    const big = testAllocation(m, {
      ...a,
      suppliers: many,
      supplierOffers: many.map(() => random32()),
      minReplicas: 1,
    });
    await expectRevert(fn("allocator", "open")(big.terms, NO_SIGNATURES), "InvalidSupplierCount", [17]);
  });
});

describe("sign", () => {
  it("anyone may submit signatures; the last one makes the allocation Running", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 2 }));
    const all = await signatures(m, d);
    await (
      await fn("allocator", "open")(d.terms, {
        ...NO_SIGNATURES,
        customer: all.customer,
        commitment: all.commitment,
      })
    ).wait();
    await (await fn("outsider", "sign")(d.terms, { ...NO_SIGNATURES, mediator: all.mediator })).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Signing);
    await (await fn("outsider", "sign")(d.terms, { ...NO_SIGNATURES, suppliers: all.suppliers })).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Running);
  });

  it("skips a second signature of the same party (no revert, nothing locked twice)", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 2 }));
    const all = await signatures(m, d, { suppliers: [0] });
    await (await fn("allocator", "open")(d.terms, all)).wait();
    const before = await balances(m);
    await (await fn("outsider", "sign")(d.terms, { ...all, suppliers: [all.suppliers[0]!] })).wait();
    expect(delta(before, await balances(m))).toEqual({});
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.Signing);
  });

  it("only while Signing and before the signing deadline", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 2 }));
    const all = await signatures(m, d);
    await expectRevert(fn("outsider", "sign")(d.terms, all), "AllocationUnexpectedState", [
      d.id,
      AllocationStateCode.None,
      AllocationStateCode.Signing,
    ]);
    await (await fn("allocator", "open")(d.terms, { ...all, suppliers: [all.suppliers[0]!] })).wait();
    await net.networkHelpers.time.increase(m.parameters.signingWindow);
    await expectRevert(
      fn("outsider", "sign")(d.terms, { ...NO_SIGNATURES, suppliers: ["0x", all.suppliers[1]!] }),
      "DeadlinePassed",
    );
  });
});

describe("expire", () => {
  it("nothing to expire before open and after close (terminal states are final)", async () => {
    const d = testAllocation(m, await makeAllocation(m));
    await expectRevert(fn("outsider", "expire")(d.terms), "NothingToExpire", [
      d.id,
      AllocationStateCode.None,
    ]);
    await openRunning(m, d);
    await toEnd(m, d);
    await (await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, await results(m, d)))).wait();
    await expectRevert(fn("outsider", "expire")(d.terms), "NothingToExpire", [
      d.id,
      AllocationStateCode.Closed,
    ]);
  });

  it("Signing: not before the signing deadline", async () => {
    const d = testAllocation(m, await makeAllocation(m));
    await (await fn("allocator", "open")(d.terms, NO_SIGNATURES)).wait();
    await expectRevert(fn("outsider", "expire")(d.terms), "DeadlineNotReached");
  });

  it("Running: not before end + revealWindow", async () => {
    const d = await runningAllocation();
    await toEnd(m, d);
    await expectRevert(fn("outsider", "expire")(d.terms), "DeadlineNotReached", [
      d.id,
      BigInt(d.a.end) + m.parameters.revealWindow,
      BigInt(await net.networkHelpers.time.latest()) + 1n,
    ]);
  });

  it("MediationRequested: not before the mediation deadline", async () => {
    const d = await runningAllocation();
    await toEnd(m, d);
    await (
      await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, await results(m, d, () => random32())))
    ).wait();
    await expectRevert(fn("outsider", "expire")(d.terms), "DeadlineNotReached");
  });
});

describe("settle", () => {
  it("only the Customer; the dispute mask only names running Suppliers", async () => {
    const d = testAllocation(m, await makeAllocation(m, { replicas: 3, minReplicas: 2 }));
    await (await fn("allocator", "open")(d.terms, await signatures(m, d, { suppliers: [0, 1] }))).wait();
    await net.networkHelpers.time.increase(m.parameters.signingWindow);
    await (await fn("outsider", "expire")(d.terms)).wait();
    await toEnd(m, d);
    const res = await results(m, d);
    for (const who of [0, 1, "outsider", "mediator", "allocator"] as const) {
      await expectRevert(fn(who, "settle")(...settleArgs(d, d.outputs.gamma, res)), "UnauthorizedCaller");
    }
    await expectRevert(
      fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res, 0b100)),
      "InvalidMask",
      [d.id, 0b100, 0b011],
    );
    await (await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res, 0b010))).wait();
    const [, , , , , disputed, mediating] = await m.market.getFunction("recordOf")(d.id);
    expect([disputed, mediating]).toEqual([0b010n, 0b010n]);
  });

  it("a disputed Supplier goes to mediation even though its seal matched", async () => {
    const d = await runningAllocation(2);
    await toEnd(m, d);
    const receipt = await (
      await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, await results(m, d), 0b01))
    ).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.MediationRequested);
    const [, , , , , disputed, mediating] = await m.market.getFunction("recordOf")(d.id);
    expect([disputed, mediating]).toEqual([1n, 1n]);
    expect(receipt).not.toBeNull();
  });

  it("rejects an opening of Γ with another salt or other test positions", async () => {
    const d = await runningAllocation();
    await toEnd(m, d);
    const res = await results(m, d);
    const [terms, salt, seqsHash, g] = settleArgs(d, d.outputs.gamma, res);
    await expectRevert(
      fn("customer", "settle")(terms, random32(), seqsHash, g, res, 0),
      "CommitmentMismatch",
    );
    await expectRevert(fn("customer", "settle")(terms, salt, random32(), g, res, 0), "CommitmentMismatch");
  });

  it("not before end, not after end + revealWindow", async () => {
    const d = await runningAllocation();
    const res = await results(m, d);
    await expectRevert(
      fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res)),
      "DeadlineNotReached",
    );
    await net.networkHelpers.time.increaseTo(BigInt(d.a.end) + m.parameters.revealWindow);
    await expectRevert(fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res)), "DeadlinePassed");
  });

  it("sends every Supplier to mediation when γ_c is not theirs; rejects results not aligned with the Suppliers", async () => {
    const d = await runningAllocation();
    await toEnd(m, d);
    const res = await results(m, d);
    await expectRevert(
      fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, [...res, ...res])),
      "LengthMismatch",
      [d.id, 1, 2],
    );
    await (await fn("customer", "settle")(...settleArgs(d, random32(), res))).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.MediationRequested);
  });

  it("settles once: a second settle finds the allocation Closed", async () => {
    const d = await runningAllocation();
    await toEnd(m, d);
    const res = await results(m, d);
    await (await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res))).wait();
    await expectRevert(
      fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res)),
      "AllocationUnexpectedState",
      [d.id, AllocationStateCode.Closed, AllocationStateCode.Running],
    );
  });

  it("a result signed by someone other than its Supplier does not count", async () => {
    const d = await runningAllocation();
    await toEnd(m, d);
    const [honest] = await results(m, d);
    const forged = {
      seal: honest!.seal,
      signature: (await results(m, { ...d }, () => d.outputs.gamma))[0]!.signature,
    };
    const byOther = await m.parties.outsider.signTypedData(
      { name: "Surplus", version: "1", chainId: m.domain.chainId, verifyingContract: m.marketAddress },
      {
        SupplierResult: [
          { name: "allocationId", type: "bytes32" },
          { name: "seal", type: "bytes32" },
        ],
      },
      { allocationId: d.id, seal: honest!.seal },
    );
    expect(forged.seal).toBe(honest!.seal);
    await (
      await fn(
        "customer",
        "settle",
      )(...settleArgs(d, d.outputs.gamma, [{ seal: honest!.seal, signature: byOther }]))
    ).wait();
    expect(await stateOf(m, d.id)).toBe(AllocationStateCode.MediationRequested);
  });
});

describe("mediate", () => {
  async function inMediation(): Promise<TestAllocation> {
    const d = await runningAllocation(2);
    await toEnd(m, d);
    await (
      await fn(
        "customer",
        "settle",
      )(...settleArgs(d, d.outputs.gamma, await results(m, d, (i) => (i ? random32() : d.outputs.gamma))))
    ).wait();
    return d;
  }

  it("only the Mediator, before the mediation deadline", async () => {
    const d = await inMediation();
    const res = await results(m, d);
    await expectRevert(fn("customer", "mediate")(d.terms, d.outputs.gamma, 0, res), "UnauthorizedCaller");
    await net.networkHelpers.time.increase(m.parameters.mediationWindow);
    await expectRevert(fn("mediator", "mediate")(d.terms, d.outputs.gamma, 0, res), "DeadlinePassed");
  });

  it("lazy may only name Suppliers in mediation; results must align", async () => {
    const d = await inMediation();
    const res = await results(m, d);
    await expectRevert(fn("mediator", "mediate")(d.terms, d.outputs.gamma, 0b01, res), "InvalidMask", [
      d.id,
      0b01,
      0b10,
    ]);
    await expectRevert(fn("mediator", "mediate")(d.terms, d.outputs.gamma, 0, [res[0]!]), "LengthMismatch");
  });

  it("only from MediationRequested: a Running allocation cannot be mediated", async () => {
    const d = await runningAllocation();
    await expectRevert(
      fn("mediator", "mediate")(d.terms, d.outputs.gamma, 0, await results(m, d)),
      "AllocationUnexpectedState",
      [d.id, AllocationStateCode.Running, AllocationStateCode.MediationRequested],
    );
  });

  it("a Customer that disputed a Supplier the Mediator finds honest is at fault", async () => {
    const d = await runningAllocation(1);
    await toEnd(m, d);
    const res = await results(m, d);
    await (await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, res, 1))).wait();
    const before = await balances(m);
    await (await fn("mediator", "mediate")(d.terms, d.outputs.gamma, 0, res)).wait();
    const { payment: P, deposit: D, inputPrice } = d.amounts;
    const comp = BigInt(d.a.testCount) * inputPrice;
    expect(delta(before, await balances(m))).toEqual({
      s0: P + D,
      mediator: m.parameters.mediatorFee + comp + d.amounts.mediatorLock, // its bond back
      treasury: D - comp,
    });
  });
});

describe("state getters", () => {
  it("recordOf keeps one slot's facts: signers, then the masks of mediation", async () => {
    const d = await runningAllocation(2);
    expect((await m.market.getFunction("recordOf")(d.id)).slice(2).map(String)).toEqual([
      "3",
      "true",
      "true",
      "0",
      "0",
    ]);
    await toEnd(m, d);
    await (
      await fn("customer", "settle")(...settleArgs(d, d.outputs.gamma, await results(m, d, () => random32())))
    ).wait();
    const [state, , , , , disputed, mediating] = await m.market.getFunction("recordOf")(d.id);
    expect([Number(state), disputed, mediating]).toEqual([AllocationStateCode.MediationRequested, 0n, 0b11n]);
  });
});
