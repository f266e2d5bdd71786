// The single definition of every message of the protocol (paper §2.1, §3.2), validated with zod
// at every boundary. Units are explicit in names:
//   *Mips      million instructions per second        *Mi / miPer*  million instructions
//   *Mb        megabytes of RAM                         *Seconds      seconds
//   start/end  unix time in seconds                      *PerMi        token base units per million instructions
//   amounts    token base units, carried as decimal strings on the wire and as bigint in code
import { getAddress, isHexString } from "ethers";
import { z } from "zod";
import { InvalidMessageError } from "./errors.ts";

/** Version of the wire schemas below; bumped on any incompatible change. */
export const SCHEMA_VERSION = 1 as const;

export type Address = `0x${string}`;
export type Bytes32 = `0x${string}`;
export type Hex = `0x${string}`;

const UINT64_MAX = (1n << 64n) - 1n;
const UINT256_MAX = (1n << 256n) - 1n;

/** An Ethereum address, normalised to its EIP-55 checksum form. */
export const address = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, "expected a 0x-prefixed 20-byte hex address")
  .transform((a) => getAddress(a) as Address);

/** A 32-byte value, lower-case hex. */
export const bytes32 = z
  .string()
  .refine((v) => isHexString(v, 32), "expected 0x-prefixed 32-byte hex")
  .transform((v) => v.toLowerCase() as Bytes32);

/** A 65-byte ECDSA signature (r ‖ s ‖ v), lower-case hex. */
export const signature = z
  .string()
  .refine((v) => isHexString(v, 65), "expected a 0x-prefixed 65-byte signature")
  .transform((v) => v.toLowerCase() as Hex);

/** Token base units: a non-negative integer below 2^256, as a decimal string (or bigint in code). */
export const amount = z
  .union([z.string().regex(/^\d{1,78}$/, "expected a decimal integer string"), z.bigint()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n && v <= UINT256_MAX, "expected 0 ≤ amount < 2^256");

/** A nonce: a non-negative integer below 2^64 as a decimal string or bigint. */
export const nonce = z
  .union([z.string().regex(/^\d{1,20}$/, "expected a decimal integer string"), z.bigint()])
  .transform((v) => BigInt(v))
  .refine((v) => v >= 0n && v <= UINT64_MAX, "expected 0 ≤ nonce < 2^64");

const unixSeconds = z
  .number()
  .int()
  .nonnegative()
  .max(2 ** 40);
const positiveInt = (max: number) => z.number().int().positive().max(max);

/** The accounts a participant trusts as Mediator (at least one, no duplicates). */
const mediatorList = z
  .array(address)
  .min(1, "at least one trusted Mediator")
  .max(16)
  .refine((list) => new Set(list).size === list.length, "duplicate Mediator");

const window = <T extends { start: number; end: number }>(v: T) => v.end > v.start;
const windowMessage = { message: "end must be after start", path: ["end"] };

/** A Supplier's offer to sell surplus compute (paper §2.1: os = ⟨account, I_s, R_s, s_start, s_end, π_xmin⟩). */
export const supplierOffer = z
  .object({
    kind: z.literal("supplier"),
    schemaVersion: z.literal(SCHEMA_VERSION),
    account: address,
    /** Unique per account; lets an account post several offers and makes every offer hash unique. */
    nonce,
    /** I_s: surplus million instructions per second available. */
    capacityMips: positiveInt(1e9),
    /** R_s: RAM available, MB. */
    ramMb: positiveInt(1e8),
    /** s_start, s_end: availability window, unix seconds. */
    start: unixSeconds,
    end: unixSeconds,
    /** π_xmin: the least the Supplier accepts per million instructions. */
    minPricePerMi: amount,
    /** Mediators this Supplier trusts. */
    mediators: mediatorList,
  })
  .strict()
  .refine(window, windowMessage);
export type SupplierOffer = z.infer<typeof supplierOffer>;

/** A Customer's offer to buy compute for a service (paper §2.1, plus r_min of §3.5 and δ_min of §3.3). */
export const customerOffer = z
  .object({
    kind: z.literal("customer"),
    schemaVersion: z.literal(SCHEMA_VERSION),
    account: address,
    nonce,
    /** Human-readable service name. */
    serviceName: z.string().min(1).max(64),
    /** keccak256 of the service's WebAssembly module: what Suppliers will run. */
    serviceHash: bytes32,
    /** I_c: million instructions to process one input. */
    miPerInput: positiveInt(1e9),
    /** R_c: RAM required, MB. */
    ramMb: positiveInt(1e8),
    /** λ: inputs per second. */
    inputsPerSecond: positiveInt(1e6),
    /** c_start, c_end: when the service must run, unix seconds. */
    start: unixSeconds,
    end: unixSeconds,
    /** π_xmax: the most the Customer pays per million instructions. */
    maxPricePerMi: amount,
    /** r: Supplier replicas wanted. */
    replicas: positiveInt(16),
    /** r_min: the least replicas with which the Customer still wants the allocation (§3.5 (4)). */
    minReplicas: positiveInt(16),
    /** δ_min: minimum service time of one allocation, seconds (§3.3). */
    minServiceSeconds: positiveInt(365 * 24 * 3600),
    mediators: mediatorList,
    /**
     * Reputation the Customer requires of each Supplier (issue 17): at most `maxMediationsLost`
     * mediations lost in the Supplier's last `windowAllocations` allocations. Absent or 0: none.
     * Signed as 0 when absent (EIP-712 has no optional fields).
     */
    windowAllocations: z
      .number()
      .int()
      .min(0)
      .max(64)
      .optional()
      .describe("reputation window: the Supplier's last N allocations (0 or absent: no requirement)"),
    maxMediationsLost: z
      .number()
      .int()
      .min(0)
      .max(64)
      .optional()
      .describe("most mediations a Supplier may have lost within the window (at most windowAllocations)"),
  })
  .strict()
  .refine(window, windowMessage)
  .refine((o) => (o.maxMediationsLost ?? 0) <= (o.windowAllocations ?? 0), {
    message: "maxMediationsLost must not exceed windowAllocations (and needs a window)",
    path: ["maxMediationsLost"],
  })
  .refine((o) => o.minReplicas <= o.replicas, {
    message: "minReplicas must not exceed replicas",
    path: ["minReplicas"],
  })
  .refine((o) => o.end - o.start >= o.minServiceSeconds, {
    message: "the window must be at least minServiceSeconds long",
    path: ["minServiceSeconds"],
  });
export type CustomerOffer = z.infer<typeof customerOffer>;

/** A Mediator's offer to be available for re-execution in a window. */
export const mediatorOffer = z
  .object({
    kind: z.literal("mediator"),
    schemaVersion: z.literal(SCHEMA_VERSION),
    account: address,
    nonce,
    start: unixSeconds,
    end: unixSeconds,
    /** How many allocations it mediates at once at most. */
    maxAllocations: positiveInt(1e6),
  })
  .strict()
  .refine(window, windowMessage);
export type MediatorOffer = z.infer<typeof mediatorOffer>;

export const offer = z.discriminatedUnion("kind", [supplierOffer, customerOffer, mediatorOffer]);
export type Offer = SupplierOffer | CustomerOffer | MediatorOffer;

/**
 * An allocation (paper §2.1 Ω): the terms every party signs and the contract anchors.
 * Its id is the EIP-712 struct hash of these terms (see eip712.ts).
 */
export const allocation = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    allocator: address,
    customer: address,
    /** The allocated Suppliers, one per replica, distinct. */
    suppliers: z
      .array(address)
      .min(1)
      .max(16)
      .refine((l) => new Set(l).size === l.length, "duplicate Supplier"),
    mediator: address,
    /** EIP-712 hash of the Customer offer (or sub-offer) this allocation serves. */
    customerOffer: bytes32,
    /** EIP-712 hashes of the Supplier offers, aligned with `suppliers`. */
    supplierOffers: z.array(bytes32).min(1).max(16),
    serviceHash: bytes32,
    /** a_start, a_end: unix seconds. */
    start: unixSeconds,
    end: unixSeconds,
    /** π_x: price per million instructions, π_xmin ≤ π_x ≤ π_xmax for every matched offer. */
    pricePerMi: amount,
    /** I_c and λ copied from the Customer offer: π_s = miPerInput·π_x, λΔ = inputsPerSecond·(end − start). */
    miPerInput: positiveInt(1e9),
    inputsPerSecond: positiveInt(1e6),
    /** n: test inputs the Customer mixes into the stream and commits to. */
    testCount: positiveInt(1e6),
    /** r_min: the allocation runs if at least this many Suppliers sign. */
    minReplicas: positiveInt(16),
    /** Allocator-chosen, makes equal terms distinct. */
    nonce,
  })
  .strict()
  .refine(window, windowMessage)
  .refine((a) => a.supplierOffers.length === a.suppliers.length, {
    message: "supplierOffers must align with suppliers",
    path: ["supplierOffers"],
  })
  .refine((a) => a.minReplicas <= a.suppliers.length, {
    message: "minReplicas must not exceed the number of Suppliers",
    path: ["minReplicas"],
  })
  .refine(
    (a) =>
      !a.suppliers.includes(a.customer) && !a.suppliers.includes(a.mediator) && a.customer !== a.mediator,
    {
      message: "Customer, Suppliers and Mediator must be distinct accounts",
    },
  );
export type Allocation = z.infer<typeof allocation>;

/** What the Allocator publishes for an offer it could not serve before its expiry (§3.3). */
export const voidAllocation = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    allocator: address,
    /** EIP-712 hash of the offer that expired unmatched. */
    offer: bytes32,
    account: address,
    reason: z.enum(["expired", "infeasible", "insufficient-replicas"]),
  })
  .strict();
export type VoidAllocation = z.infer<typeof voidAllocation>;

/**
 * A party's acceptance of an allocation (paper ③–④). It is an EIP-712 signature, so the same
 * message also signs the allocation on-chain. `commitment` is Γ(O_c) for the Customer and zero
 * for Suppliers and the Mediator.
 */
export const accept = z
  .object({
    allocationId: bytes32,
    account: address,
    commitment: bytes32,
  })
  .strict();
export type Accept = z.infer<typeof accept>;

/** A party's refusal of an allocation (it signs nothing on-chain). */
export const decline = z
  .object({
    allocationId: bytes32,
    account: address,
    reason: z.string().max(256),
  })
  .strict();
export type Decline = z.infer<typeof decline>;

/** The Supplier's verification evidence (paper ⑦ PostOutput): seal(s, id, γ(O_v)), signed off-chain. */
export const supplierResult = z
  .object({
    allocationId: bytes32,
    account: address,
    seal: bytes32,
  })
  .strict();
export type SupplierResult = z.infer<typeof supplierResult>;

/** The Customer's reveal after the stream ended (paper ⑥): salt and which inputs were tests. */
export const checklist = z
  .object({
    allocationId: bytes32,
    salt: bytes32,
    /** Sequence numbers of the n test inputs, ascending. */
    testSeqs: z
      .array(nonce)
      .min(1)
      .refine((s) => s.every((v, i) => i === 0 || v > s[i - 1]!), "testSeqs must be strictly ascending"),
  })
  .strict();
export type Checklist = z.infer<typeof checklist>;

/** The end-of-allocation notice on the cleanup channel (paper ⑥). */
export const cleanup = z
  .object({
    allocationId: bytes32,
    /** Sequence number after the last input of the stream. */
    endSeq: nonce,
  })
  .strict();
export type Cleanup = z.infer<typeof cleanup>;

/** One input of the live stream (input channel), base64 payload. */
export const streamInput = z
  .object({
    seq: nonce,
    /** Event time, unix milliseconds. */
    eventTimeMs: z.number().int().nonnegative(),
    payload: z.base64(),
  })
  .strict();
export type StreamInput = z.infer<typeof streamInput>;

/** One output of a Supplier (its output channel), answering input `seq`. */
export const streamOutput = z
  .object({
    seq: nonce,
    supplier: address,
    payload: z.base64(),
    /** Set when the service failed on this input (trap, time or memory budget): payload is empty. */
    error: z.string().max(256).optional(),
  })
  .strict();
export type StreamOutput = z.infer<typeof streamOutput>;

/** Kinds of signed messages on the public market channels. */
export const MessageType = {
  SupplierOffer: "SupplierOffer",
  CustomerOffer: "CustomerOffer",
  MediatorOffer: "MediatorOffer",
  Allocation: "Allocation",
  Accept: "Accept",
  Decline: "Decline",
  SupplierResult: "SupplierResult",
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/**
 * The envelope of every signed message on a channel: the body, who signed it (EIP-712) and when
 * it was sent (for freshness checks against replay).
 */
export const envelope = z
  .object({
    schemaVersion: z.literal(SCHEMA_VERSION),
    type: z.enum(Object.values(MessageType) as [MessageType, ...MessageType[]]),
    body: z.unknown(),
    signer: address,
    signature,
    /** Unix milliseconds when the signer sent it. */
    sentAtMs: z.number().int().nonnegative(),
  })
  .strict();
export type Envelope = z.infer<typeof envelope>;

/** Parses `value` with `schema`, throwing an InvalidMessageError that names every problem. */
export function parse<S extends z.ZodType>(schema: S, value: unknown, what: string): z.infer<S> {
  const result = schema.safeParse(value);
  if (!result.success) {
    throw new InvalidMessageError(
      what,
      result.error.issues.map((i) => `${i.path.length ? i.path.join(".") : "(root)"}: ${i.message}`),
    );
  }
  return result.data;
}

/** JSON with bigints as decimal strings: the wire form of every message. */
export function toWire(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === "bigint" ? v.toString() : v));
}
