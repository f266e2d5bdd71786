// Shared setup of the contract tests: an in-process Hardhat network, a deployed market with a
// TestToken, funded parties, and builders for allocations, signatures and results.
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/types";
import {
  type Address,
  type Allocation,
  allocationId,
  type Bytes32,
  checklistCommitment,
  gamma,
  type Hex,
  type SequencedOutput,
  testSeqsHash,
} from "@surplus/core";
import { type Contract, hexlify, Interface, randomBytes, ZeroHash } from "ethers";
import {
  amountsOf,
  DEFAULT_PARAMETERS,
  type DeployedMarket,
  deployMarket,
  NO_RESULT,
  SURPLUS_MARKET_ABI,
  signAccept,
  signResult,
  toTerms,
} from "../../src/index.ts";
import { createInProcessNetwork, type InProcessNetwork } from "../../src/network.ts";

/** One in-process Hardhat network per test file. */
export const createNetwork = createInProcessNetwork;
export type Network = InProcessNetwork;

export const FUNDS = 10n ** 24n;

export interface Parties {
  readonly treasury: HardhatEthersSigner;
  readonly allocator: HardhatEthersSigner;
  readonly customer: HardhatEthersSigner;
  readonly mediator: HardhatEthersSigner;
  readonly suppliers: readonly HardhatEthersSigner[];
  readonly outsider: HardhatEthersSigner;
}

export interface Market extends DeployedMarket {
  readonly parties: Parties;
  readonly net: Network;
}

/** Deploys a market and funds every party with FUNDS deposited in the market. */
export async function deployFunded(net: Network): Promise<Market> {
  const signers = await net.ethers.getSigners();
  const [deployer, treasury, allocator, customer, mediator, s1, s2, s3, outsider] = signers as [
    HardhatEthersSigner,
    ...HardhatEthersSigner[],
  ] as HardhatEthersSigner[];
  const deployed = await deployMarket(deployer!, { treasury: treasury!.address });
  const parties: Parties = {
    treasury: treasury!,
    allocator: allocator!,
    customer: customer!,
    mediator: mediator!,
    suppliers: [s1!, s2!, s3!],
    outsider: outsider!,
  };
  for (const p of [allocator, customer, mediator, s1, s2, s3, outsider]) {
    await (await (deployed.token.connect(p!) as Contract).getFunction("mint")(p!.address, FUNDS)).wait();
    await (
      await (deployed.token.connect(p!) as Contract).getFunction("approve")(deployed.marketAddress, FUNDS)
    ).wait();
    await (await (deployed.market.connect(p!) as Contract).getFunction("deposit")(FUNDS)).wait();
  }
  return { ...deployed, parties, net };
}

/**
 * A Customer's secret checklist for allocation `id` (salt, test positions) and what derives from
 * it: the outputs at those positions, γ, seqsHash and Γ.
 */
export function testOutputs(id: Bytes32, count: number, salt: Bytes32 = hexlify(randomBytes(32)) as Bytes32) {
  const items: SequencedOutput[] = Array.from({ length: count }, (_, i) => ({
    seq: BigInt(i * 7 + 3),
    output: new TextEncoder().encode(`people=${i % 5}`),
  }));
  const testSeqs = items.map((i) => i.seq);
  const g = gamma(id, salt, items);
  return {
    salt,
    items,
    testSeqs,
    seqsHash: testSeqsHash(testSeqs),
    gamma: g,
    commitment: checklistCommitment(id, salt, testSeqs),
  };
}

export interface AllocationOptions {
  readonly replicas?: number;
  readonly minReplicas?: number;
  readonly testCount?: number;
  readonly duration?: number;
  readonly nonce?: bigint;
}

/** Terms of an allocation starting shortly: λΔ = 10·duration inputs, π_s = 10^12, P = λΔ·π_s. */
export async function makeAllocation(m: Market, o: AllocationOptions = {}): Promise<Allocation> {
  const now = await m.net.networkHelpers.time.latest();
  const r = o.replicas ?? 1;
  const duration = o.duration ?? 200;
  const suppliers = m.parties.suppliers.slice(0, r).map((s) => s.address as Address);
  return {
    schemaVersion: 1,
    allocator: m.parties.allocator.address as Address,
    customer: m.parties.customer.address as Address,
    suppliers,
    mediator: m.parties.mediator.address as Address,
    customerOffer: hexlify(randomBytes(32)) as Bytes32,
    supplierOffers: suppliers.map(() => hexlify(randomBytes(32)) as Bytes32),
    serviceHash: hexlify(randomBytes(32)) as Bytes32,
    start: now + 10,
    end: now + 10 + duration,
    pricePerMi: 3n * 10n ** 9n,
    miPerInput: 1000,
    inputsPerSecond: 10,
    testCount: o.testCount ?? 10,
    minReplicas: o.minReplicas ?? r,
    nonce: o.nonce ?? BigInt(Math.floor(Math.random() * 1e12)),
  };
}

/** Everything a test needs about one allocation. */
export interface TestAllocation {
  readonly a: Allocation;
  readonly terms: ReturnType<typeof toTerms>;
  readonly id: Bytes32;
  readonly outputs: ReturnType<typeof testOutputs>;
  readonly amounts: ReturnType<typeof amountsOf>;
}

export function testAllocation(m: Market, a: Allocation): TestAllocation {
  const id = allocationId(m.domain, a);
  return {
    a,
    terms: toTerms(a),
    id,
    outputs: testOutputs(id, a.testCount),
    amounts: amountsOf(a, m.parameters),
  };
}

/** The arguments of the Customer's `settle`: terms, the checklist's opening, γ_c, results, dispute mask. */
export function settleArgs(d: TestAllocation, gammaC: Bytes32, res: readonly unknown[], disputed = 0) {
  return [d.terms, d.outputs.salt, d.outputs.seqsHash, gammaC, res, disputed] as const;
}

export interface SignOptions {
  readonly customer?: boolean;
  readonly mediator?: boolean;
  /** Which Suppliers sign (by index); all when absent. */
  readonly suppliers?: readonly number[];
}

/** The `Signatures` argument of `open`, with the chosen parties' Accept signatures. */
export async function signatures(m: Market, d: TestAllocation, o: SignOptions = {}) {
  const supplierIdx = o.suppliers ?? d.a.suppliers.map((_, i) => i);
  const suppliers: Hex[] = [];
  for (let i = 0; i < d.a.suppliers.length; i++) {
    suppliers.push(
      supplierIdx.includes(i) ? await signAccept(m.parties.suppliers[i]!, m.domain, d.id) : ("0x" as Hex),
    );
  }
  return {
    customer:
      o.customer === false
        ? "0x"
        : await signAccept(m.parties.customer, m.domain, d.id, d.outputs.commitment),
    commitment: o.customer === false ? ZeroHash : d.outputs.commitment,
    mediator: o.mediator === false ? "0x" : await signAccept(m.parties.mediator, m.domain, d.id),
    suppliers,
  };
}

/** `market` connected to `signer`, with its functions. */
export function as(m: Market, signer: HardhatEthersSigner): Contract {
  return m.market.connect(signer) as Contract;
}

/** Opens `d` with every signature, so it is Running. */
export async function openRunning(m: Market, d: TestAllocation): Promise<void> {
  await (await as(m, m.parties.allocator).getFunction("open")(d.terms, await signatures(m, d))).wait();
}

/** Signed results of the Suppliers: honest ones seal the Customer's γ, others `gammaFor(i)`. */
export async function results(
  m: Market,
  d: TestAllocation,
  gammaFor: (i: number) => Bytes32 | undefined = () => d.outputs.gamma,
) {
  const out: Array<{ seal: Bytes32; signature: Hex }> = [];
  for (let i = 0; i < d.a.suppliers.length; i++) {
    const g = gammaFor(i);
    out.push(g === undefined ? NO_RESULT : await signResult(m.parties.suppliers[i]!, m.domain, d.id, g));
  }
  return out;
}

/** Advances time to the allocation's `end` (if it is not past it already). */
export async function toEnd(m: Market, d: TestAllocation): Promise<void> {
  if ((await m.net.networkHelpers.time.latest()) < d.a.end)
    await m.net.networkHelpers.time.increaseTo(d.a.end);
}

export async function balances(m: Market): Promise<Record<string, bigint>> {
  const p = m.parties;
  const out: Record<string, bigint> = {};
  const named: Array<[string, HardhatEthersSigner]> = [
    ["treasury", p.treasury],
    ["allocator", p.allocator],
    ["customer", p.customer],
    ["mediator", p.mediator],
    ["s0", p.suppliers[0]!],
    ["s1", p.suppliers[1]!],
    ["s2", p.suppliers[2]!],
    ["outsider", p.outsider],
  ];
  for (const [name, s] of named) out[name] = await m.market.getFunction("balanceOf")(s.address);
  return out;
}

/** Balance changes since `before`, only the non-zero ones. */
export function delta(before: Record<string, bigint>, after: Record<string, bigint>): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const k of Object.keys(after)) {
    const d = after[k]! - (before[k] ?? 0n);
    if (d !== 0n) out[k] = d;
  }
  return out;
}

export { DEFAULT_PARAMETERS };

/** The custom error a failed call reverted with, decoded with the market's ABI. */
function decodeRevert(error: unknown): { name: string; args: unknown[] } | undefined {
  const e = error as { revert?: { name: string; args: unknown[] }; data?: unknown };
  if (e.revert) return { name: e.revert.name, args: [...e.revert.args] };
  if (typeof e.data !== "string") return undefined;
  const parsed = connectMarketInterface.parseError(e.data);
  return parsed ? { name: parsed.name, args: [...parsed.args] } : undefined;
}
const connectMarketInterface = new Interface(SURPLUS_MARKET_ABI);

/** Asserts that `call` reverts with the custom error `name` (and, if given, these arguments). */
export async function expectRevert(
  call: Promise<unknown>,
  name: string,
  args?: readonly unknown[],
): Promise<void> {
  let error: unknown;
  try {
    await call;
  } catch (e) {
    error = e;
  }
  if (error === undefined) throw new Error(`expected a revert with ${name}, but the call succeeded`);
  const revert = decodeRevert(error);
  if (revert?.name !== name) {
    throw new Error(`expected a revert with ${name}, got ${revert?.name ?? (error as Error).message}`);
  }
  if (args) {
    const actual = revert.args.map(String);
    const expected = args.map(String);
    if (actual.join(",") !== expected.join(",")) {
      throw new Error(`${name} arguments: expected (${expected.join(", ")}), got (${actual.join(", ")})`);
    }
  }
}

/** The `Signatures` argument with nobody's signature. */
export const NO_SIGNATURES = {
  customer: "0x",
  commitment: ZeroHash,
  mediator: "0x",
  suppliers: [] as string[],
};

/** The state of an allocation, as a number. */
export async function stateOf(m: Market, id: string): Promise<number> {
  const [state] = await m.market.getFunction("recordOf")(id);
  return Number(state);
}

/** Parses the market's events out of a transaction receipt. */
export function eventsOf(
  m: Market,
  receipt: { logs: ReadonlyArray<{ topics: ReadonlyArray<string>; data: string }> },
) {
  return receipt.logs
    .map((l) => m.market.interface.parseLog({ topics: [...l.topics], data: l.data }))
    .filter((e): e is NonNullable<typeof e> => e !== null);
}
