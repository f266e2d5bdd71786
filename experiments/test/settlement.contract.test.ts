// The settlement model equals the contract: random allocation lifecycles run on the real
// SurplusMarket (Hardhat EDR, in process) and through `settle()`, and every party's balance change
// must agree to the wei. This is what licenses the experiments to use the model.
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  type DeployedMarket,
  deployMarket,
  NO_RESULT,
  signAccept,
  signResult,
  toTerms,
} from "@surplus/contracts";
import { createInProcessNetwork, type InProcessNetwork } from "@surplus/contracts/network";
import {
  type Address,
  type Allocation,
  AllocationStateCode,
  allocationId,
  type Bytes32,
  checklistCommitment,
  testSeqsHash,
} from "@surplus/core";
import { type Contract, hexlify, randomBytes, ZeroHash } from "ethers";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { experimentParameters } from "../src/parameters.ts";
import {
  type Ending,
  type Lifecycle,
  type Mediation,
  netFlow,
  type SupplierResult,
  settle,
} from "../src/settlement.ts";

const R_MAX = 3;
const FUNDS = 10n ** 30n;
/** γ values the parties choose from: 0 is the true γ, the others are wrong ones. */
const GAMMAS = [0, 1, 2].map((i) => `0x${(0x11 * (i + 1)).toString(16).repeat(32)}` as Bytes32);

let net: InProcessNetwork;
/** The markets the lifecycles run on; `m` is the one of the current case. */
const markets: DeployedMarket[] = [];
let m: DeployedMarket;
let parties: {
  treasury: HardhatEthersSigner;
  allocator: HardhatEthersSigner;
  customer: HardhatEthersSigner;
  mediator: HardhatEthersSigner;
  suppliers: HardhatEthersSigner[];
};
const params = experimentParameters();

beforeAll(async () => {
  net = await createInProcessNetwork();
  const [deployer, treasury, allocator, customer, mediator, ...rest] = await net.ethers.getSigners();
  parties = {
    treasury: treasury!,
    allocator: allocator!,
    customer: customer!,
    mediator: mediator!,
    suppliers: rest.slice(0, R_MAX),
  };
  // The experiments' market (ρ, F = π_a and M = π_m from Table 6 in an 18-decimal dollar token),
  // and one with other parameters: no Allocator fee, whole-deposit timeout fine, a small ρ.
  const other = {
    ...params.market,
    penaltyRate: 100n,
    allocatorFee: 0n,
    mediatorFee: 1n,
    timeoutFineBps: 10_000n,
  };
  for (const parameters of [params.market, other]) {
    const deployed = await deployMarket(deployer!, { treasury: treasury!.address, parameters });
    markets.push(deployed);
    // The Mediator too: it locks a bond of P + D per running Supplier when it signs.
    for (const p of [customer!, mediator!, ...parties.suppliers]) {
      const token = deployed.token.connect(p) as Contract;
      await (await token.getFunction("mint")(p.address, FUNDS)).wait();
      await (await token.getFunction("approve")(deployed.marketAddress, FUNDS)).wait();
      await (await (deployed.market.connect(p) as Contract).getFunction("deposit")(FUNDS)).wait();
    }
  }
}, 120_000);

const gamma = fc.constantFrom(...GAMMAS);
/** True five times in six: most parties sign, some do not. */
const usually = fc.constantFrom(true, true, true, true, true, false);
const result: fc.Arbitrary<SupplierResult> = fc.option(gamma, { nil: undefined, freq: 4 });

/** A random lifecycle for r Suppliers: who signs (and when), γ_c, results, disputes, mediation. */
const scenario = fc.integer({ min: 1, max: R_MAX }).chain((r) =>
  fc.record({
    r: fc.constant(r),
    market: fc.integer({ min: 0, max: 1 }),
    minReplicas: fc.integer({ min: 1, max: r }),
    inputsPerSecond: fc.integer({ min: 1, max: 40 }),
    duration: fc.integer({ min: 60, max: 1_200 }),
    /** n between ⌈λΔ/ρ⌉ and min(ρ, λΔ) (the contract's bounds), as a fraction of that range. */
    nFraction: fc.double({ min: 0, max: 1, noNaN: true }),
    pricePerMi: fc.bigInt({ min: 1n, max: 10n ** 12n }),
    miPerInput: fc.integer({ min: 1, max: 1_000 }),
    signed: fc.record({
      // Mostly everyone signs, sometimes not (signing failures, r_min).
      customer: usually,
      mediator: usually,
      suppliers: fc.array(usually, { minLength: r, maxLength: r }),
    }),
    /** Which signatures go into `open` (the rest call `sign` later). */
    atOpen: fc.array(fc.boolean(), { minLength: r + 2, maxLength: r + 2 }),
    gammaC: gamma,
    ending: fc.oneof(
      { weight: 1, arbitrary: fc.constant<Ending>({ kind: "revealTimeout" }) },
      {
        weight: 6,
        arbitrary: fc.record({
          kind: fc.constant("settled" as const),
          frontRunners: fc.oneof(
            { weight: 3, arbitrary: fc.constant(0) },
            { weight: 1, arbitrary: fc.integer({ min: 1, max: (1 << r) - 1 }) },
          ),
          disputed: fc.oneof(
            { weight: 3, arbitrary: fc.constant(0) },
            { weight: 1, arbitrary: fc.integer({ min: 1, max: (1 << r) - 1 }) },
          ),
          results: fc.array(result, { minLength: r, maxLength: r }),
          mediation: fc.oneof(
            { weight: 1, arbitrary: fc.constant<Mediation>({ kind: "timeout" }) },
            {
              weight: 4,
              arbitrary: fc.record({
                kind: fc.constant("mediated" as const),
                gammaM: gamma,
                lazy: fc.integer({ min: 0, max: (1 << r) - 1 }),
                results: fc.array(result, { minLength: r, maxLength: r }),
              }),
            },
          ),
        }),
      },
    ),
  }),
);
type Scenario = typeof scenario extends fc.Arbitrary<infer T> ? T : never;

let nonce = 0n;

async function termsOf(s: Scenario): Promise<Allocation> {
  const now = await net.networkHelpers.time.latest();
  const rho = Number(m.parameters.penaltyRate);
  // The contract needs n ≤ ρ and n·ρ ≥ λΔ, so λΔ ≤ ρ².
  const duration = Math.min(s.duration, Math.floor((rho * rho) / s.inputsPerSecond));
  const inputs = s.inputsPerSecond * duration;
  const lo = Math.ceil(inputs / rho);
  const hi = Math.min(rho, inputs);
  const suppliers = parties.suppliers.slice(0, s.r).map((p) => p.address as Address);
  const offer = () => hexlify(randomBytes(32)) as Bytes32;
  return {
    schemaVersion: 1,
    allocator: parties.allocator.address as Address,
    customer: parties.customer.address as Address,
    suppliers,
    mediator: parties.mediator.address as Address,
    customerOffer: offer(),
    supplierOffers: suppliers.map(offer),
    serviceHash: offer(),
    start: now + 10,
    end: now + 10 + duration,
    pricePerMi: s.pricePerMi,
    miPerInput: s.miPerInput,
    inputsPerSecond: s.inputsPerSecond,
    testCount: lo + Math.floor(s.nFraction * (hi - lo)),
    minReplicas: s.minReplicas,
    nonce: nonce++,
  };
}

async function balances(): Promise<bigint[]> {
  const who = [parties.customer, parties.mediator, parties.allocator, parties.treasury, ...parties.suppliers];
  return Promise.all(who.map((p) => m.market.getFunction("balanceOf")(p.address) as Promise<bigint>));
}

const call = async (signer: HardhatEthersSigner, fn: string, ...args: unknown[]) =>
  (await (m.market.connect(signer) as Contract).getFunction(fn)(...args)).wait();

/** Drives the contract through the scenario, as the parties would. */
async function runOnChain(a: Allocation, life: Lifecycle, atOpen: readonly boolean[]): Promise<void> {
  const terms = toTerms(a);
  const id = allocationId(m.domain, a);
  // The Customer's secret checklist: a salt and n positions of the stream (γ_c is the scenario's).
  const salt = hexlify(randomBytes(32)) as Bytes32;
  const testSeqs = Array.from({ length: a.testCount }, (_, k) => BigInt(k * 3 + 1));
  const commitment = checklistCommitment(id, salt, testSeqs);
  const time = net.networkHelpers.time;
  const sig = {
    customer: life.signed.customer ? await signAccept(parties.customer, m.domain, id, commitment) : undefined,
    mediator: life.signed.mediator ? await signAccept(parties.mediator, m.domain, id) : undefined,
    suppliers: await Promise.all(
      a.suppliers.map((_, i) =>
        life.signed.suppliers[i] ? signAccept(parties.suppliers[i]!, m.domain, id) : undefined,
      ),
    ),
  };
  const early = (k: number) => atOpen[k] === true;
  const subset = (pick: (k: number) => boolean) => ({
    customer: sig.customer && pick(0) ? sig.customer : "0x",
    commitment: sig.customer && pick(0) ? commitment : ZeroHash,
    mediator: sig.mediator && pick(1) ? sig.mediator : "0x",
    suppliers: sig.suppliers.map((s, i) => (s && pick(i + 2) ? s : "0x")),
  });
  await call(parties.allocator, "open", terms, subset(early));
  const late = (k: number) =>
    !early(k) && (k === 0 ? sig.customer : k === 1 ? sig.mediator : sig.suppliers[k - 2]) !== undefined;
  if ([0, 1, ...a.suppliers.map((_, i) => i + 2)].some(late)) {
    await call(parties.allocator, "sign", terms, subset(late));
  }

  const stateOf = async () => Number((await m.market.getFunction("recordOf")(id))[0]);
  if ((await stateOf()) === AllocationStateCode.Signing) {
    await time.increase(m.parameters.signingWindow);
    await call(parties.allocator, "expire", terms);
  }
  if ((await stateOf()) !== AllocationStateCode.Running) return;

  const end = life.ending;
  if (end.kind === "revealTimeout") {
    await time.increaseTo(BigInt(a.end) + m.parameters.revealWindow);
    await call(parties.allocator, "expire", terms);
    return;
  }
  const [, , running] = await m.market.getFunction("recordOf")(id);
  // The contract refuses a mask naming a Supplier that is not running.
  const disputed = end.disputed & Number(running);
  const signed = async (results: readonly SupplierResult[]) =>
    Promise.all(
      a.suppliers.map((_, i) => {
        const g = results[i];
        return g === undefined ? NO_RESULT : signResult(parties.suppliers[i]!, m.domain, id, g);
      }),
    );
  if ((await time.latest()) < a.end) await time.increaseTo(a.end);
  const seqsHash = testSeqsHash(testSeqs);
  // Front-runners settle first with their own seal as γ, nobody disputed: refused, nothing changes.
  for (let i = 0; i < a.suppliers.length; i++) {
    if (((end.frontRunners ?? 0) & (1 << i)) === 0) continue;
    const own = end.results[i] ?? life.gammaC;
    const results = await signed(a.suppliers.map((_, k) => (k === i ? own : undefined)));
    await expect(
      call(parties.suppliers[i]!, "settle", terms, salt, seqsHash, own, results, 0),
    ).rejects.toThrow(/UnauthorizedCaller/);
  }
  await call(
    parties.customer,
    "settle",
    terms,
    salt,
    seqsHash,
    life.gammaC,
    await signed(end.results),
    disputed,
  );
  if ((await stateOf()) !== AllocationStateCode.MediationRequested) return;
  const med = end.mediation;
  if (med.kind === "timeout") {
    await time.increase(m.parameters.mediationWindow);
    await call(parties.allocator, "expire", terms);
    return;
  }
  const [, , , , , , mediating] = await m.market.getFunction("recordOf")(id);
  await call(
    parties.mediator,
    "mediate",
    terms,
    med.gammaM,
    med.lazy & Number(mediating),
    await signed(med.results),
  );
}

const [G, X, Y] = GAMMAS as [Bytes32, Bytes32, Bytes32];
const base = {
  market: 0,
  minReplicas: 1,
  inputsPerSecond: 20,
  duration: 600,
  nFraction: 0,
  pricePerMi: params.service.pricePerMi,
  miPerInput: params.service.miPerInput,
  gammaC: G,
};
const all = (r: number) => ({
  customer: true,
  mediator: true,
  suppliers: Array.from({ length: r }, () => true),
});
const settled = (
  results: SupplierResult[],
  mediation: Mediation,
  disputed = 0,
  frontRunners = 0,
): Ending => ({
  kind: "settled",
  frontRunners,
  disputed,
  results,
  mediation,
});
const mediated = (gammaM: Bytes32, results: SupplierResult[], lazy = 0): Mediation => ({
  kind: "mediated",
  gammaM,
  lazy,
  results,
});
/** One scenario per path (paper Table 3's outcomes, §3.5 timeouts, §4.1), tried before the random ones. */
const PATHS: Scenario[] = [
  // O1: everyone honest.
  { ...base, r: 1, signed: all(1), atOpen: [true, true, true], ending: settled([G], { kind: "timeout" }) },
  // O2: the Supplier at fault (lazy, wrong γ), the Customer honest.
  {
    ...base,
    r: 2,
    signed: all(2),
    atOpen: [true, true, true, true],
    ending: settled([G, X], mediated(G, [G, X], 0b10)),
  },
  // O3: the Customer at fault (committed a wrong γ), the Supplier honest.
  {
    ...base,
    r: 1,
    gammaC: X,
    signed: all(1),
    atOpen: [true, false, true],
    ending: settled([G], mediated(G, [G])),
  },
  // O4: both at fault.
  {
    ...base,
    r: 1,
    gammaC: X,
    signed: all(1),
    atOpen: [false, true, false],
    ending: settled([Y], mediated(G, [Y], 1)),
  },
  // A silent Supplier (no result), and a Customer disputing an honest one.
  {
    ...base,
    r: 3,
    signed: all(3),
    atOpen: [true, true, true, true, true],
    ending: settled([G, undefined, G], mediated(G, [G, undefined, G]), 0b100),
  },
  // Only a silent Supplier with n > ρ/4: the Mediator's n·π_s is capped at the timeout fine.
  {
    ...base,
    inputsPerSecond: 40,
    duration: 1_200,
    nFraction: 1,
    r: 1,
    signed: all(1),
    atOpen: [true, true, true],
    ending: settled([undefined], mediated(G, [undefined])),
  },
  // Issue 14: a front-running lazy Supplier that sealed the true γ late and tries to settle first;
  // the Customer disputes it from the live stream and the Mediator finds it lazy.
  {
    ...base,
    r: 2,
    signed: all(2),
    atOpen: [true, true, true, true],
    ending: settled([G, G], mediated(G, [G, G], 0b10), 0b10, 0b10),
  },
  // The same with a silent Mediator: nobody fined, the Mediator's bond pays.
  {
    ...base,
    r: 2,
    signed: all(2),
    atOpen: [true, true, true, true],
    ending: settled([G, G], { kind: "timeout" }, 0b10, 0b10),
  },
  // The Mediator times out; the Customer withholds γ_c.
  {
    ...base,
    r: 2,
    signed: all(2),
    atOpen: [true, true, true, true],
    ending: settled([G, X], { kind: "timeout" }),
  },
  { ...base, r: 2, signed: all(2), atOpen: [true, true, true, true], ending: { kind: "revealTimeout" } },
  // Signing fails; r_min reached with 2 of 3.
  {
    ...base,
    r: 2,
    signed: { customer: true, mediator: false, suppliers: [true, true] },
    atOpen: [true, true, true, true],
    ending: { kind: "revealTimeout" },
  },
  {
    ...base,
    r: 3,
    minReplicas: 2,
    signed: { customer: true, mediator: true, suppliers: [true, false, true] },
    atOpen: [true, true, false, true, true],
    ending: settled([G, undefined, G], { kind: "timeout" }),
  },
];

describe("settlement model", () => {
  it("equals the contract to the wei on random lifecycles", async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        m = markets[s.market]!;
        const a = await termsOf(s);
        const life: Lifecycle = { signed: s.signed, gammaC: s.gammaC, ending: s.ending };
        const model = settle(a, m.parameters, life);
        const before = await balances();
        await runOnChain(a, life, s.atOpen);
        const after = await balances();
        const chain = after.map((x, i) => x - before[i]!);
        const predicted = [
          model.customer,
          model.mediator,
          model.allocator,
          model.treasury,
          ...model.suppliers,
        ];
        while (predicted.length < chain.length) predicted.push(0n);
        expect(chain).toEqual(predicted);
        expect(netFlow(model)).toBe(0n);
        const [state] = await m.market.getFunction("recordOf")(allocationId(m.domain, a));
        expect(Number(state)).toBe(AllocationStateCode.Closed);
      }),
      { numRuns: 40, examples: PATHS.map((p) => [p]) },
    );
  }, 120_000);
});
