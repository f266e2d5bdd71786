// Inputs and outputs of one auction round (paper §2.1, §3.1, §3.3).
import type { ProtocolDelays, TimeWindow } from "../feasibility.ts";
import type { PriceRule } from "../pricing.ts";
import type { ReputationRequirement, ReputationView } from "../reputation.ts";
import type {
  Address,
  Allocation,
  Bytes32,
  CustomerOffer,
  SupplierOffer,
  VoidAllocation,
} from "../schemas.ts";
import type { MarketFees, Unfunded } from "./admission.ts";
import type { RoundMechanism } from "./mechanism.ts";

/** A share of a Supplier offer's CPU and RAM already promised to an allocation, over [start, end). */
export interface Commitment {
  readonly start: number;
  readonly end: number;
  readonly mips: number;
  readonly ramMb: number;
}

/** An open Supplier offer with what earlier rounds already took from it. */
export interface OpenSupplierOffer {
  /** The offer's id: its EIP-712 digest (core `offerId`). */
  readonly id: Bytes32;
  readonly offer: SupplierOffer;
  /** Shares promised to earlier allocations. @default none */
  readonly commitments?: readonly Commitment[];
}

/** An open Customer offer and the parts of its window still to be served. */
export interface OpenCustomerOffer {
  readonly id: Bytes32;
  readonly offer: CustomerOffer;
  /**
   * Parts of [start, end) not yet allocated by an earlier round, ascending and disjoint.
   * @default the whole window
   */
  readonly openWindows?: readonly TimeWindow[];
  /** What every Supplier matched with it must have shown (issue 17). @default no requirement */
  readonly requires?: ReputationRequirement;
}

export interface AuctionParams {
  /** The Allocator's account: signs and is named in every allocation. */
  readonly allocator: Address;
  /** The round's clock, unix seconds (passed in, never read inside: the auction is deterministic). */
  readonly nowSeconds: number;
  /** δ_alloc, δ_setup (§3.3). @default DEFAULT_DELAYS */
  readonly delays?: ProtocolDelays;
  /** ρ, the penalty rate: n = ⌈λΔ/ρ⌉ test inputs per allocation (§3.4.5). */
  readonly penaltyRate: bigint;
  /** Price rule applied to each allocation's Customer bid and Supplier asks. @default halfway k-double auction */
  readonly priceRule?: PriceRule;
  /**
   * Round-level mechanism (mechanism.ts): which trades the round keeps and at what price; it runs
   * the greedy itself. @default none: the greedy's trades, each priced by `priceRule`
   */
  readonly mechanism?: RoundMechanism;
  /** Longest allocation, seconds (a chunk longer than this is cut). @default no limit besides n ≤ maxTestCount */
  readonly maxChunkSeconds?: number;
  /** Upper bound on n (the contract's uint32, the schema's 10^6): longer chunks are cut. @default 1 000 000 */
  readonly maxTestCount?: number;
  /**
   * Suppliers examined per Mediator and attempt at most (cheapest first; only Suppliers that are
   * present with room are examined, so this bounds the rejections for shared accounts and
   * earlier commitments). @default 512
   */
  readonly maxScan?: number;
  /**
   * A chunk's Customer is matched again (so it can move to cheaper Suppliers, or give way to a
   * higher bid) at the first event this long after the chunk started (at least δ_min); when the
   * same Suppliers win again the allocation goes on. Each allocation costs set-up time and gas.
   * @default 3 600
   */
  readonly switchSeconds?: number;
  /**
   * Refinement passes after the first greedy passes (Customers the best pass left short move up,
   * and the greedy runs again; the best round is kept). Each costs one greedy pass.
   * @default on markets of at most 2 000 offers 4 000 / offers, within [4, 16]; otherwise 0
   */
  readonly refinements?: number;
  /** Suppliers' reputations, read for Customer offers that require a minimum. @default none recorded */
  readonly reputation?: ReputationView;
  /** Allocation nonces are nonceBase + k for the k-th allocation of the round. @default 0n */
  readonly nonceBase?: bigint;
  /**
   * The Mediators' free balances in the market contract (less what pending allocations reserve)
   * and the contract's fees (issue 16): a Mediator that cannot cover its bond r·(P + D) for the
   * allocations the round would name it in is left out and the round runs again without it.
   * Mediators missing from `free` hold nothing. @default no check (every Mediator is funded)
   */
  readonly mediatorFunds?: { readonly free: ReadonlyMap<Address, bigint>; readonly fees: MarketFees };
  /** Mediators the round must not name in any allocation. @default none */
  readonly excludedMediators?: ReadonlySet<Address>;
}

export interface AuctionInput {
  readonly customers: readonly OpenCustomerOffer[];
  readonly suppliers: readonly OpenSupplierOffer[];
  readonly params: AuctionParams;
}

/** One allocation the round produced, with what the registries need to commit it. */
export interface PlannedAllocation {
  readonly allocation: Allocation;
  readonly customerOfferId: Bytes32;
  readonly supplierOfferIds: readonly Bytes32[];
  /** Σ over replicas of (π_xmax − π_xmin(s))·I_c·λ·Δ, token base units. */
  readonly welfare: bigint;
  /** The share of each Supplier offer this allocation takes. */
  readonly commitment: Commitment;
}

/** How one Customer offer's open windows were cut and which pieces were served. */
export interface CustomerOutcome {
  readonly customerOfferId: Bytes32;
  /** Consecutive pieces tiling the open windows that lie after now + δ_alloc + δ_setup. */
  readonly pieces: ReadonlyArray<TimeWindow & { readonly allocation?: number }>;
  /** Pieces still unserved that a later round could serve (they end after the offer's expiry horizon). */
  readonly stillOpen: readonly TimeWindow[];
  /** True when nothing more can ever be allocated for this offer (served, or expired). */
  readonly closed: boolean;
}

export interface AuctionResult {
  /** In the order they were made (by start time; at one instant, Customers by priority). */
  readonly allocations: readonly PlannedAllocation[];
  /** Offers that expired without any allocation in this or an earlier round (§3.3). */
  readonly voids: readonly VoidAllocation[];
  readonly customers: readonly CustomerOutcome[];
  /** Σ welfare of the allocations, token base units. */
  readonly welfare: bigint;
  /** With `mediatorFunds`: the Mediators left out because they could not cover their bond. */
  readonly shortMediators?: readonly Unfunded[];
}
