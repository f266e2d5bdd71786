// The output-hash functions of paper §3.4.6 (eq. 7), over a canonical byte encoding.
//
// Encoding (identical to what contracts/ computes; all integers big-endian):
//   leaf(seq, o)      = keccak256( uint64(seq) ‖ keccak256(o) )                      — 40 bytes hashed
//   α(K)              = [ leaf(seq_k, o_k) for k in K ]                               — one hash per output
//   γ(id, salt, K)    = keccak256( bytes32(id) ‖ bytes32(salt) ‖ uint32(|K|) ‖ leaf_1 ‖ … ‖ leaf_n )
//                                                                                     — K sorted by seq
//   seqsHash(T)       = keccak256( abi.encodePacked(uint64[] T) )    — T ascending, one 32-byte word each
//   Γ(id, salt, T)    = keccak256( abi.encode(bytes32 id, bytes32 salt, bytes32 seqsHash(T)) )
//   seal(s, id, γ)    = keccak256( abi.encode(address s, bytes32 id, bytes32 γ) )
//
// Deviations from the paper, and why:
// - Each output is bound to the sequence number of its input (`seq`), so an output only counts
//   for the input it answers, and γ has one canonical order (ascending seq).
// - γ is salted with a secret the Customer draws per allocation and reveals only after the stream
//   has ended. Without it, a Supplier could recover low-entropy test outputs (a people count, a
//   flag) from the commitment by brute force instead of processing the inputs.
// - Tests are secret positions T of the live stream itself (nothing marks a test input), so the
//   Customer commits before the stream to its checklist (salt, T), not to outputs it cannot know
//   yet: Γ opens to (salt, T) on chain at settle, and γ is what the Customer computed as the stream
//   passed.
// - γ and Γ carry the allocation id, so a salt or checklist reused across allocations yields
//   unrelated γs: a γ revealed in one allocation is worthless in another.
// - The count n is hashed in, so a commitment to fewer test outputs than the allocation's n can
//   never match an honest Supplier's γ.
// - A Supplier never publishes γ itself, only seal(s, id, γ): bound to its address and to the
//   allocation, so another Supplier cannot copy it, and it reveals nothing about γ
//   (iExec's seal = H(worker, task, digest) plays the same role).
import { AbiCoder, getBytes, keccak256, solidityPackedKeccak256 } from "ethers";
import { createKeccak, type IHasher } from "hash-wasm";
import { InvalidParameterError } from "./errors.ts";
import type { Address, Bytes32 } from "./schemas.ts";

/** The all-zero bytes32: no commitment (a Supplier's or the Mediator's Accept), no result. */
export const ZERO_HASH: Bytes32 = `0x${"00".repeat(32)}`;

/** One output of a service, tagged with the sequence number of the input it answers. */
export interface SequencedOutput {
  /** Sequence number of the input in the allocation's input stream (0-based, < 2^64). */
  readonly seq: bigint;
  /** The raw output bytes the service produced. */
  readonly output: Uint8Array;
}

const U64_MAX = (1n << 64n) - 1n;

function u64(value: bigint): Uint8Array {
  if (value < 0n || value > U64_MAX) throw new InvalidParameterError("seq", value, "an integer in [0, 2^64)");
  const out = new Uint8Array(8);
  new DataView(out.buffer).setBigUint64(0, value);
  return out;
}

function u32(value: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, value);
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * keccak256 in WebAssembly (hash-wasm, no native addon) once it has compiled, a few milliseconds
 * after start-up; ethers' JavaScript keccak until then (same digest). A Supplier hashes every
 * output it records, and the WebAssembly one is ~10× faster on 1 KB outputs. Used synchronously
 * (init → update → digest), so calls cannot interleave. No top-level await: bundlers that load
 * modules lazily do not all support it.
 */
let wasmKeccak: IHasher | undefined;
/** Resolves to true once the WebAssembly keccak serves hashBytes (false: it cannot load here). */
export const wasmKeccakReady: Promise<boolean> = createKeccak(256).then(
  (h) => {
    wasmKeccak = h;
    return true;
  },
  () => false, // no WebAssembly here: the JavaScript keccak serves
);

/** keccak256 of raw bytes, as 0x-prefixed hex. */
export function hashBytes(bytes: Uint8Array): Bytes32 {
  if (!wasmKeccak) return keccak256(bytes) as Bytes32;
  wasmKeccak.init();
  wasmKeccak.update(bytes);
  return `0x${wasmKeccak.digest("hex")}` as Bytes32;
}

/** An output reduced to what verification needs: its input's sequence number and keccak256(o). */
export interface SequencedOutputHash {
  readonly seq: bigint;
  readonly outputHash: Bytes32;
}

/** The form verification works on: a Supplier keeps only these, not every output. */
export function toOutputHash(item: SequencedOutput): SequencedOutputHash {
  return { seq: item.seq, outputHash: hashBytes(item.output) };
}

/** leaf(seq, o) from keccak256(o). */
export function leafOfHash(item: SequencedOutputHash): Bytes32 {
  return hashBytes(concat([u64(item.seq), getBytes(item.outputHash)]));
}

/** leaf(seq, o): one output bound to its input's sequence number. */
export function outputLeaf(item: SequencedOutput): Bytes32 {
  return leafOfHash(toOutputHash(item));
}

/** α(K): the per-output hashes, in the given order. */
export function alpha(items: readonly SequencedOutput[]): Bytes32[] {
  return items.map(outputLeaf);
}

function sortedUnique<T extends { readonly seq: bigint }>(items: readonly T[]): T[] {
  const sorted = [...items].sort((a, b) => (a.seq < b.seq ? -1 : a.seq > b.seq ? 1 : 0));
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.seq === sorted[i - 1]!.seq) {
      throw new InvalidParameterError("seq", sorted[i]!.seq, "each test output to answer a distinct input");
    }
  }
  return sorted;
}

function bytes32Of(name: string, value: Bytes32): Uint8Array {
  const bytes = getBytes(value);
  if (bytes.length !== 32) throw new InvalidParameterError(name, value, "32 bytes");
  return bytes;
}

/** γ(id, salt, K): the salted hash of the set K for allocation `id`, canonical in order (ascending seq). */
export function gamma(allocationId: Bytes32, salt: Bytes32, items: readonly SequencedOutput[]): Bytes32 {
  return gammaOfHashes(allocationId, salt, items.map(toOutputHash));
}

/** γ(id, salt, K) from the outputs' hashes. */
export function gammaOfHashes(
  allocationId: Bytes32,
  salt: Bytes32,
  items: readonly SequencedOutputHash[],
): Bytes32 {
  const idBytes = bytes32Of("allocationId", allocationId);
  const saltBytes = bytes32Of("salt", salt);
  if (items.length === 0 || items.length > 0xffff_ffff) {
    throw new InvalidParameterError("test outputs", items.length, "between 1 and 2^32 − 1 outputs");
  }
  const leaves = sortedUnique(items).map((item) => getBytes(leafOfHash(item)));
  return hashBytes(concat([idBytes, saltBytes, u32(leaves.length), ...leaves]));
}

/**
 * keccak256(abi.encodePacked(uint64[] T)) of the test positions T in ascending order (Solidity pads
 * each array element to 32 bytes). Throws on a repeated or out-of-range position.
 */
export function testSeqsHash(testSeqs: readonly bigint[]): Bytes32 {
  if (testSeqs.length === 0) throw new InvalidParameterError("test positions", 0, "at least one position");
  for (const seq of testSeqs) u64(seq); // range check
  const sorted = sortedUnique(testSeqs.map((seq) => ({ seq }))).map((t) => t.seq);
  return solidityPackedKeccak256(["uint64[]"], [sorted]) as Bytes32;
}

/** Γ from an already hashed checklist: keccak256(abi.encode(id, salt, seqsHash)), what the contract checks. */
export function checklistCommitmentOfHash(allocationId: Bytes32, salt: Bytes32, seqsHash: Bytes32): Bytes32 {
  bytes32Of("allocationId", allocationId);
  bytes32Of("salt", salt);
  bytes32Of("seqsHash", seqsHash);
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes32", "bytes32"], [allocationId, salt, seqsHash]),
  ) as Bytes32;
}

/** Γ(id, salt, T): the Customer's commitment to its secret checklist, signed with its Accept. */
export function checklistCommitment(
  allocationId: Bytes32,
  salt: Bytes32,
  testSeqs: readonly bigint[],
): Bytes32 {
  return checklistCommitmentOfHash(allocationId, salt, testSeqsHash(testSeqs));
}

/** seal(s, id, γ): a Supplier's verification evidence, bound to its address and the allocation. */
export function seal(supplier: Address, allocationId: Bytes32, g: Bytes32): Bytes32 {
  return keccak256(
    AbiCoder.defaultAbiCoder().encode(["address", "bytes32", "bytes32"], [supplier, allocationId, g]),
  ) as Bytes32;
}
