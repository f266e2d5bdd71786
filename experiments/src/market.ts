// The simulated market's offers and their matching by the real Allocator (core's `runAuction`).
//
// Each round every Customer posts one offer for one allocation of Δ seconds and every Supplier
// posts one offer with room for exactly one replica over the same window; asks and bids are
// Table 6's π_x, so the halfway price is exactly π_x and π_s = I_c·π_x is Table 6's π_s. Which
// Supplier serves which Customer is the auction's choice (equal prices: ordered by offer id, an
// EIP-712 digest that depends on the seeded nonces, so the pairing changes with the seed).
import {
  type Address,
  type Allocation,
  type Bytes32,
  type CustomerOffer,
  domainOf,
  encodeType,
  type MarketDomain,
  type OpenCustomerOffer,
  type OpenSupplierOffer,
  runAuction,
  SCHEMA_VERSION,
  type SupplierOffer,
  TYPES,
} from "@surplus/core";
import { concat, getAddress, keccak256, TypedDataEncoder, toUtf8Bytes } from "ethers";
import type { ExperimentParameters } from "./parameters.ts";
import { seedOf } from "./random.ts";

/** The domain the offers are signed under (the local chain's first contract address). */
export const DOMAIN: MarketDomain = {
  chainId: 31337n,
  verifyingContract: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
};

const word = (hex: string) => hex.replace(/^0x/, "").toLowerCase().padStart(64, "0");
const typeHashes = {
  customer: keccak256(toUtf8Bytes(encodeType("CustomerOffer"))),
  supplier: keccak256(toUtf8Bytes(encodeType("SupplierOffer"))),
};
const domainHash = TypedDataEncoder.hashDomain(domainOf(DOMAIN));

/** One field of an EIP-712 struct as its 32-byte word (the types the offers use). */
function encodeField(type: string, value: unknown): string {
  switch (type) {
    case "address":
    case "bytes32":
      return word(value as string);
    case "string":
      return word(keccak256(toUtf8Bytes(value as string)));
    case "address[]":
      return word(keccak256(`0x${(value as readonly string[]).map(word).join("")}`));
    default:
      if (/^uint\d+$/.test(type))
        return BigInt(value as bigint | number)
          .toString(16)
          .padStart(64, "0");
      throw new RangeError(`no encoder for EIP-712 type ${type}`);
  }
}

/**
 * core's `offerId(DOMAIN, o)` (the offer's EIP-712 digest), encoded by hand from core's TYPES:
 * ethers' generic encoder costs a millisecond an offer and the experiments hash 120,000 offers.
 * A test checks both agree.
 */
export function fastOfferId(o: CustomerOffer | SupplierOffer): Bytes32 {
  const fields = o.kind === "customer" ? TYPES.CustomerOffer : TYPES.SupplierOffer;
  const body = o as unknown as Record<string, unknown>;
  const words = fields.map((f) => encodeField(f.type, body[f.name] ?? 0)); // an omitted requirement is signed as 0
  const structHash = keccak256(`${typeHashes[o.kind]}${words.join("")}`);
  return keccak256(concat(["0x1901", domainHash, structHash])) as Bytes32;
}

const accountOf = (prefix: number, i: number) =>
  getAddress(`0x${prefix.toString(16).padStart(8, "0")}${i.toString(16).padStart(32, "0")}`) as Address;

/** Accounts of the simulated parties (distinct, checksummed). */
export const Accounts = {
  customer: (i: number) => accountOf(0xc0, i),
  supplier: (i: number) => accountOf(0x50, i),
  mediator: accountOf(0x3e, 0),
  allocator: accountOf(0xa1, 0),
} as const;

/** When round 0 starts (unix seconds); rounds follow each other without overlap. */
const T0 = 1_800_000_000;
const SERVICE_HASH = `0x${"5e".repeat(32)}` as const;
const RAM_MB = 256;

export interface RoundOffers {
  readonly customers: readonly OpenCustomerOffer[];
  readonly suppliers: readonly OpenSupplierOffer[];
  /** The auction's clock: its earliest start is the round's window start. */
  readonly nowSeconds: number;
}

/** The offers of `round`: one per Customer and per Supplier, all over the same Δ window. */
export function roundOffers(
  p: ExperimentParameters,
  seed: number,
  round: number,
  customers: number,
  suppliers: number,
): RoundOffers {
  const { inputsPerSecond, durationSeconds, miPerInput, pricePerMi } = p.service;
  const start = T0 + round * (durationSeconds + 60);
  const end = start + durationSeconds;
  const nonce = (who: number, i: number) => (BigInt(round) << 32n) | BigInt(seedOf(seed, round, who, i));
  const cs: OpenCustomerOffer[] = [];
  for (let i = 0; i < customers; i++) {
    const offer: CustomerOffer = {
      kind: "customer",
      schemaVersion: SCHEMA_VERSION,
      account: Accounts.customer(i),
      nonce: nonce(0, i),
      serviceName: "people-counter",
      serviceHash: SERVICE_HASH,
      miPerInput,
      ramMb: RAM_MB,
      inputsPerSecond,
      start,
      end,
      maxPricePerMi: pricePerMi,
      replicas: 1,
      minReplicas: 1,
      minServiceSeconds: durationSeconds,
      mediators: [Accounts.mediator],
    };
    cs.push({ id: fastOfferId(offer), offer });
  }
  const ss: OpenSupplierOffer[] = [];
  for (let i = 0; i < suppliers; i++) {
    const offer: SupplierOffer = {
      kind: "supplier",
      schemaVersion: SCHEMA_VERSION,
      account: Accounts.supplier(i),
      nonce: nonce(1, i),
      // Room for exactly one replica of the service (I_c·λ MIPS).
      capacityMips: miPerInput * inputsPerSecond,
      ramMb: RAM_MB,
      start,
      end,
      minPricePerMi: pricePerMi,
      mediators: [Accounts.mediator],
    };
    ss.push({ id: fastOfferId(offer), offer });
  }
  const delays = { allocSeconds: 5, setupSeconds: 5 };
  return { customers: cs, suppliers: ss, nowSeconds: start - delays.allocSeconds - delays.setupSeconds };
}

/** One round matched by the Allocator: the allocations, with the Customer and Supplier indices. */
export interface MatchedAllocation {
  readonly allocation: Allocation;
  readonly customer: number;
  readonly suppliers: readonly number[];
}

/** Runs the Allocator's auction on one round's offers. */
export function matchRound(p: ExperimentParameters, offers: RoundOffers, round: number): MatchedAllocation[] {
  const result = runAuction({
    customers: offers.customers,
    suppliers: offers.suppliers,
    params: {
      allocator: Accounts.allocator,
      nowSeconds: offers.nowSeconds,
      delays: { allocSeconds: 5, setupSeconds: 5 },
      penaltyRate: p.market.penaltyRate,
      nonceBase: BigInt(round) << 32n,
    },
  });
  const customerIndex = new Map(offers.customers.map((c, i) => [c.offer.account, i]));
  const supplierIndex = new Map(offers.suppliers.map((s, i) => [s.offer.account, i]));
  return result.allocations.map(({ allocation }) => ({
    allocation,
    customer: customerIndex.get(allocation.customer)!,
    suppliers: allocation.suppliers.map((s) => supplierIndex.get(s)!),
  }));
}
