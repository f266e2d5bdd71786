// @surplus/contracts — the market contract's ABI and bytecode, a deploy helper, and the helpers
// every party needs to talk to it (terms as the contract's tuple, Accept and SupplierResult
// signatures, amounts). Works with any ethers v6 Signer: a Hardhat in-process network, a Hardhat
// node, or a public chain.
// The allocation's state is core's `AllocationState` (its `AllocationStateCode` is this ABI's
// `ISurplusMarket.State`): one type for every package.
import {
  type Allocation,
  type Bytes32,
  type Hex,
  type MarketDomain,
  seal as sealOf,
  signTyped,
  ZERO_HASH,
} from "@surplus/core";
import { Contract, ContractFactory, type ContractRunner, type Signer } from "ethers";
import surplusMarketArtifact from "./generated/SurplusMarket.json" with { type: "json" };
import testTokenArtifact from "./generated/TestToken.json" with { type: "json" };

export const SURPLUS_MARKET_ABI = surplusMarketArtifact.abi;
export const TEST_TOKEN_ABI = testTokenArtifact.abi;
export const SURPLUS_MARKET_BYTECODE = surplusMarketArtifact.bytecode as Hex;
export const TEST_TOKEN_BYTECODE = testTokenArtifact.bytecode as Hex;

/** Why an allocation closed, as `ISurplusMarket.CloseReason`. */
export const CloseReason = {
  Settled: 0,
  Mediated: 1,
  MediatorTimeout: 2,
  RevealTimeout: 3,
  SigningFailed: 4,
} as const;
export type CloseReason = (typeof CloseReason)[keyof typeof CloseReason];

/** The market's system parameters, fixed at deployment (see contracts/README.md). */
export interface MarketParameters {
  /** ρ: deposits are ρ·π_s; allocations need testCount·ρ ≥ λΔ and testCount ≤ ρ. */
  readonly penaltyRate: bigint;
  /** F: paid to the Allocator by the Customer and by each running Supplier. */
  readonly allocatorFee: bigint;
  /** M: paid by the Customer to the Mediator. */
  readonly mediatorFee: bigint;
  /** Share of D, in basis points, fined from a Supplier that posted no result. */
  readonly timeoutFineBps: bigint;
  /** Seconds from `open` to the signing deadline. */
  readonly signingWindow: bigint;
  /** Seconds after `end` in which `settle` may be called. */
  readonly revealWindow: bigint;
  /** Seconds from `settle` to the mediation deadline. */
  readonly mediationWindow: bigint;
  /** Bounds of an allocation's `end − start`, in seconds. */
  readonly minDuration: bigint;
  readonly maxDuration: bigint;
  /** `open` needs `start ≤ now + maxStartDelay` (and `now < start`). */
  readonly maxStartDelay: bigint;
}

/** Parameters for local networks and tests. */
export const DEFAULT_PARAMETERS: MarketParameters = {
  penaltyRate: 1_000n,
  allocatorFee: 10n ** 15n,
  mediatorFee: 2n * 10n ** 15n,
  timeoutFineBps: 2_500n,
  signingWindow: 600n,
  revealWindow: 3_600n,
  mediationWindow: 3_600n,
  minDuration: 1n,
  maxDuration: 30n * 86_400n,
  maxStartDelay: 7n * 86_400n,
};

export interface DeployOptions {
  /** The ERC-20 to escrow; a fresh TestToken is deployed when absent (local networks only). */
  readonly token?: string;
  /** Receives unowed fines; the deployer when absent. */
  readonly treasury?: string;
  readonly parameters?: Partial<MarketParameters>;
}

export interface DeployedMarket {
  /** The SurplusMarket contract, connected to the deployer. */
  readonly market: Contract;
  /** The payment token (a TestToken with a public `mint` when none was given). */
  readonly token: Contract;
  readonly marketAddress: string;
  readonly tokenAddress: string;
  /** Hashes of the deployment transactions (the token's only when this call deployed it). */
  readonly deployTransactions: { readonly market: string; readonly token?: string };
  readonly parameters: MarketParameters;
  /** The EIP-712 domain every party signs under. */
  readonly domain: MarketDomain;
}

/** Deploys a market (and a TestToken when no token is given) with `deployer`. */
export async function deployMarket(deployer: Signer, options: DeployOptions = {}): Promise<DeployedMarket> {
  const parameters = { ...DEFAULT_PARAMETERS, ...options.parameters };
  let tokenAddress = options.token;
  let tokenTx: string | undefined;
  if (tokenAddress === undefined) {
    const tokenFactory = new ContractFactory(TEST_TOKEN_ABI, TEST_TOKEN_BYTECODE, deployer);
    const deployed = await tokenFactory.deploy();
    await deployed.waitForDeployment();
    tokenAddress = await deployed.getAddress();
    tokenTx = deployed.deploymentTransaction()?.hash;
  }
  const factory = new ContractFactory(SURPLUS_MARKET_ABI, SURPLUS_MARKET_BYTECODE, deployer);
  const deployed = await factory.deploy(
    tokenAddress,
    options.treasury ?? (await deployer.getAddress()),
    parameters.penaltyRate,
    parameters.allocatorFee,
    parameters.mediatorFee,
    parameters.timeoutFineBps,
    parameters.signingWindow,
    parameters.revealWindow,
    parameters.mediationWindow,
    parameters.minDuration,
    parameters.maxDuration,
    parameters.maxStartDelay,
  );
  await deployed.waitForDeployment();
  const marketAddress = await deployed.getAddress();
  const network = await deployer.provider!.getNetwork();
  return {
    market: connectMarket(marketAddress, deployer),
    token: new Contract(tokenAddress, TEST_TOKEN_ABI, deployer),
    marketAddress,
    tokenAddress,
    deployTransactions: {
      market: deployed.deploymentTransaction()!.hash,
      ...(tokenTx ? { token: tokenTx } : {}),
    },
    parameters,
    domain: { chainId: network.chainId, verifyingContract: marketAddress as `0x${string}` },
  };
}

/** A SurplusMarket contract object at `address`. */
export function connectMarket(address: string, runner: ContractRunner): Contract {
  return new Contract(address, SURPLUS_MARKET_ABI, runner);
}

/** The allocation's terms as the contract's `Allocation` tuple (core's schema fields, in order). */
export function toTerms(a: Allocation) {
  return {
    allocator: a.allocator,
    customer: a.customer,
    suppliers: [...a.suppliers],
    mediator: a.mediator,
    customerOffer: a.customerOffer,
    supplierOffers: [...a.supplierOffers],
    serviceHash: a.serviceHash,
    start: BigInt(a.start),
    end: BigInt(a.end),
    pricePerMi: a.pricePerMi,
    miPerInput: BigInt(a.miPerInput),
    inputsPerSecond: BigInt(a.inputsPerSecond),
    testCount: BigInt(a.testCount),
    minReplicas: BigInt(a.minReplicas),
    nonce: a.nonce,
  };
}
export type Terms = ReturnType<typeof toTerms>;

/** A party's Accept(allocationId, commitment) signature (commitment is zero except for the Customer). */
export async function signAccept(
  signer: Signer,
  domain: MarketDomain,
  allocationId: Bytes32,
  commitment: Bytes32 = ZERO_HASH,
): Promise<Hex> {
  const account = (await signer.getAddress()) as `0x${string}`;
  return signTyped(signer, domain, "Accept", { allocationId, account, commitment });
}

/** A Supplier's result for `settle`/`mediate`: seal(s, id, γ) and its SupplierResult signature. */
export async function signResult(
  signer: Signer,
  domain: MarketDomain,
  allocationId: Bytes32,
  gamma: Bytes32,
): Promise<{ seal: Bytes32; signature: Hex }> {
  const account = (await signer.getAddress()) as `0x${string}`;
  const seal = sealOf(account, allocationId, gamma);
  const signature = await signTyped(signer, domain, "SupplierResult", { allocationId, account, seal });
  return { seal, signature };
}

/** "No result" for a Supplier in `settle`/`mediate`. */
export const NO_RESULT = { seal: ZERO_HASH, signature: "0x" as Hex } as const;

/** The amounts of an allocation (mirrors the contract's `amountsOf` and the locks of `open`). */
export function amountsOf(a: Allocation, p: MarketParameters) {
  const inputPrice = BigInt(a.miPerInput) * a.pricePerMi;
  const inputs = BigInt(a.inputsPerSecond) * BigInt(a.end - a.start);
  const payment = inputs * inputPrice;
  const deposit = p.penaltyRate * inputPrice;
  const r = BigInt(a.suppliers.length);
  return {
    inputPrice,
    inputs,
    payment,
    deposit,
    /** What the Customer locks when it signs: r·P + D + M + F. */
    customerLock: r * payment + deposit + p.mediatorFee + p.allocatorFee,
    /** What each Supplier locks when it signs: D + F. */
    supplierLock: deposit + p.allocatorFee,
    /** What the Mediator locks when it signs, its bond: r·(P + D). */
    mediatorLock: r * (payment + deposit),
  };
}
