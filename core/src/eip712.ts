// EIP-712 typed data for every signed message: nobody can post or alter a message in another
// account's name. The same type strings are compiled into contracts/ (MarketTypes.sol); a test
// there checks they agree byte for byte with TYPES below.
import { type Signer, TypedDataEncoder, verifyTypedData } from "ethers";
import { SignatureMismatchError, SurplusError } from "./errors.ts";
import {
  type Accept,
  type Address,
  type Allocation,
  accept,
  allocation,
  type Bytes32,
  type CustomerOffer,
  customerOffer,
  type Decline,
  decline,
  type Envelope,
  envelope,
  type Hex,
  type MediatorOffer,
  MessageType,
  mediatorOffer,
  parse,
  SCHEMA_VERSION,
  type SupplierOffer,
  type SupplierResult,
  supplierOffer,
  supplierResult,
} from "./schemas.ts";

/** The EIP-712 domain: the market contract on one chain. */
export interface MarketDomain {
  readonly chainId: bigint | number;
  readonly verifyingContract: Address;
}

export const DOMAIN_NAME = "Surplus";
export const DOMAIN_VERSION = String(SCHEMA_VERSION);

export function domainOf(d: MarketDomain) {
  return {
    name: DOMAIN_NAME,
    version: DOMAIN_VERSION,
    chainId: d.chainId,
    verifyingContract: d.verifyingContract,
  };
}

/** The typed-data definitions, one per message type. */
export const TYPES = {
  SupplierOffer: [
    { name: "account", type: "address" },
    { name: "nonce", type: "uint64" },
    { name: "capacityMips", type: "uint64" },
    { name: "ramMb", type: "uint64" },
    { name: "start", type: "uint64" },
    { name: "end", type: "uint64" },
    { name: "minPricePerMi", type: "uint256" },
    { name: "mediators", type: "address[]" },
  ],
  CustomerOffer: [
    { name: "account", type: "address" },
    { name: "nonce", type: "uint64" },
    { name: "serviceName", type: "string" },
    { name: "serviceHash", type: "bytes32" },
    { name: "miPerInput", type: "uint64" },
    { name: "ramMb", type: "uint64" },
    { name: "inputsPerSecond", type: "uint32" },
    { name: "start", type: "uint64" },
    { name: "end", type: "uint64" },
    { name: "maxPricePerMi", type: "uint256" },
    { name: "replicas", type: "uint8" },
    { name: "minReplicas", type: "uint8" },
    { name: "minServiceSeconds", type: "uint64" },
    { name: "mediators", type: "address[]" },
    { name: "windowAllocations", type: "uint8" },
    { name: "maxMediationsLost", type: "uint8" },
  ],
  MediatorOffer: [
    { name: "account", type: "address" },
    { name: "nonce", type: "uint64" },
    { name: "start", type: "uint64" },
    { name: "end", type: "uint64" },
    { name: "maxAllocations", type: "uint32" },
  ],
  Allocation: [
    { name: "allocator", type: "address" },
    { name: "customer", type: "address" },
    { name: "suppliers", type: "address[]" },
    { name: "mediator", type: "address" },
    { name: "customerOffer", type: "bytes32" },
    { name: "supplierOffers", type: "bytes32[]" },
    { name: "serviceHash", type: "bytes32" },
    { name: "start", type: "uint64" },
    { name: "end", type: "uint64" },
    { name: "pricePerMi", type: "uint256" },
    { name: "miPerInput", type: "uint64" },
    { name: "inputsPerSecond", type: "uint32" },
    { name: "testCount", type: "uint32" },
    { name: "minReplicas", type: "uint8" },
    { name: "nonce", type: "uint64" },
  ],
  Accept: [
    { name: "allocationId", type: "bytes32" },
    { name: "commitment", type: "bytes32" },
  ],
  Decline: [
    { name: "allocationId", type: "bytes32" },
    { name: "reason", type: "string" },
  ],
  SupplierResult: [
    { name: "allocationId", type: "bytes32" },
    { name: "seal", type: "bytes32" },
  ],
} as const;

export type SignedType = keyof typeof TYPES;

interface Bodies {
  SupplierOffer: SupplierOffer;
  CustomerOffer: CustomerOffer;
  MediatorOffer: MediatorOffer;
  Allocation: Allocation;
  Accept: Accept;
  Decline: Decline;
  SupplierResult: SupplierResult;
}

/** The body schema of each signed message type (also what the published spec is generated from). */
export const SIGNED_BODY_SCHEMAS = {
  SupplierOffer: supplierOffer,
  CustomerOffer: customerOffer,
  MediatorOffer: mediatorOffer,
  Allocation: allocation,
  Accept: accept,
  Decline: decline,
  SupplierResult: supplierResult,
} as const;

/** The account that must have signed a message of each type. */
function signerOf<T extends SignedType>(type: T, body: Bodies[T]): Address {
  if (type === "Allocation") return (body as Allocation).allocator;
  return (body as { account: Address }).account;
}

function typesFor(type: SignedType): Record<string, Array<{ name: string; type: string }>> {
  return { [type]: TYPES[type].map((f) => ({ ...f })) };
}

/**
 * The value signed for a body: a signed field the body may omit (the Customer offer's reputation
 * requirement) is signed as 0, so an offer without one keeps a fixed-shape struct.
 */
function typedValue(type: SignedType, body: object): Record<string, unknown> {
  if (type !== "CustomerOffer") return body as Record<string, unknown>;
  const o = body as CustomerOffer;
  return { ...o, windowAllocations: o.windowAllocations ?? 0, maxMediationsLost: o.maxMediationsLost ?? 0 };
}

/** The EIP-712 type string, e.g. `Accept(bytes32 allocationId,bytes32 commitment)`. */
export function encodeType(type: SignedType): string {
  return TypedDataEncoder.from(typesFor(type)).encodeType(type);
}

/** The EIP-712 digest of a message: what is signed, and the id of offers and allocations. */
export function digest<T extends SignedType>(d: MarketDomain, type: T, body: Bodies[T]): Bytes32 {
  return TypedDataEncoder.hash(domainOf(d), typesFor(type), typedValue(type, body)) as Bytes32;
}

/** An allocation's id: the EIP-712 digest of its terms (the contract computes the same). */
export function allocationId(d: MarketDomain, a: Allocation): Bytes32 {
  return digest(d, "Allocation", a);
}

/** The id of an offer: the EIP-712 digest of its body. */
export function offerId(d: MarketDomain, o: SupplierOffer | CustomerOffer | MediatorOffer): Bytes32 {
  switch (o.kind) {
    case "supplier":
      return digest(d, "SupplierOffer", o);
    case "customer":
      return digest(d, "CustomerOffer", o);
    case "mediator":
      return digest(d, "MediatorOffer", o);
  }
}

/** Signs a message with the signer's key (EIP-712 `signTypedData`). */
export async function signTyped<T extends SignedType>(
  signer: Signer,
  d: MarketDomain,
  type: T,
  body: Bodies[T],
): Promise<Hex> {
  const expected = signerOf(type, body);
  const actual = await signer.getAddress();
  if (actual.toLowerCase() !== expected.toLowerCase()) {
    throw new SignatureMismatchError(`${type} for ${expected}`, expected, actual);
  }
  return (await signer.signTypedData(domainOf(d), typesFor(type), typedValue(type, body))) as Hex;
}

/** The address that signed a message, or undefined when the signature is malformed. */
export function recoverSigner<T extends SignedType>(
  d: MarketDomain,
  type: T,
  body: Bodies[T],
  sig: Hex,
): Address | undefined {
  try {
    return verifyTypedData(domainOf(d), typesFor(type), typedValue(type, body), sig) as Address;
  } catch {
    return undefined;
  }
}

/** Throws SignatureMismatchError unless `sig` is the body's account's signature. */
export function assertSignedBy<T extends SignedType>(
  d: MarketDomain,
  type: T,
  body: Bodies[T],
  sig: Hex,
): void {
  const expected = signerOf(type, body);
  const recovered = recoverSigner(d, type, body, sig);
  if (recovered?.toLowerCase() !== expected.toLowerCase())
    throw new SignatureMismatchError(type, expected, recovered);
}

/** Builds the signed envelope for a channel. */
export async function signEnvelope<T extends SignedType>(
  signer: Signer,
  d: MarketDomain,
  type: T,
  body: Bodies[T],
  nowMs: number,
): Promise<Envelope> {
  return {
    schemaVersion: SCHEMA_VERSION,
    type: MessageType[type],
    body,
    signer: signerOf(type, body),
    signature: await signTyped(signer, d, type, body),
    sentAtMs: nowMs,
  };
}

/** A message that failed verification: stale or from the future. */
export class StaleMessageError extends SurplusError {
  override name = "StaleMessageError";
  constructor(sentAtMs: number, nowMs: number, maxAgeMs: number) {
    super(
      "STALE_MESSAGE",
      `message sent at ${sentAtMs} is outside the ±${maxAgeMs} ms window around ${nowMs}`,
      {
        sentAtMs,
        nowMs,
        maxAgeMs,
      },
    );
  }
}

export type VerifiedMessage = {
  [T in SignedType]: { type: T; body: Bodies[T]; envelope: Envelope };
}[SignedType];

export interface VerifyOptions {
  readonly nowMs: number;
  /** Accept messages sent at most this long ago (or this far in the future, for clock skew). */
  readonly maxAgeMs: number;
}

/**
 * An envelope whose schema and body schema were checked, but not yet its signature or age: its
 * content is under `unverified`, so no code takes it for a VerifiedMessage by mistake.
 */
export interface ParsedMessage {
  readonly unverified: VerifiedMessage;
}

/**
 * Checks a received envelope's schema and its body's schema only. For a receiver that drops most
 * messages by their content (an agent reading every allocation, most naming other parties), so
 * it pays for `verifyParsed`'s signature recovery only on those it keeps. Nothing in a parsed
 * message is to be trusted until `verifyParsed` returns.
 */
export function parseEnvelope(raw: unknown): ParsedMessage {
  const env = parse(envelope, raw, "message envelope");
  const type = env.type as SignedType;
  const body = parse(
    SIGNED_BODY_SCHEMAS[type] as (typeof SIGNED_BODY_SCHEMAS)[SignedType],
    env.body,
    type,
  ) as Bodies[SignedType];
  return { unverified: { type, body, envelope: env } as VerifiedMessage };
}

/** The rest of `verifyEnvelope`: that the body's account signed it, and that it is fresh. */
export function verifyParsed(d: MarketDomain, m: ParsedMessage, opts: VerifyOptions): VerifiedMessage {
  const { type, body, envelope: env } = m.unverified;
  const expected = signerOf(type, body);
  if (env.signer !== expected) throw new SignatureMismatchError(`${type} envelope`, expected, env.signer);
  assertSignedBy(d, type, body, env.signature);
  if (Math.abs(opts.nowMs - env.sentAtMs) > opts.maxAgeMs)
    throw new StaleMessageError(env.sentAtMs, opts.nowMs, opts.maxAgeMs);
  return { type, body, envelope: env } as VerifiedMessage;
}

/**
 * Verifies a received envelope: its schema, its body's schema, that the body's account signed it,
 * and that it is fresh. Returns the typed body; throws a SurplusError naming what is wrong.
 * (Replays within the freshness window are caught by the consumer's id-dedup, not here.)
 */
export function verifyEnvelope(d: MarketDomain, raw: unknown, opts: VerifyOptions): VerifiedMessage {
  return verifyParsed(d, parseEnvelope(raw), opts);
}
