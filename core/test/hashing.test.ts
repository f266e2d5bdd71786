import { AbiCoder, keccak256, solidityPackedKeccak256 } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  alpha,
  checklistCommitment,
  checklistCommitmentOfHash,
  gamma,
  hashBytes,
  InvalidParameterError,
  outputLeaf,
  type SequencedOutput,
  seal,
  testSeqsHash,
  wasmKeccakReady,
} from "../src/index.ts";
import { alice, bob } from "./fixtures.ts";

const outputArb = fc.record({
  seq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  output: fc.uint8Array({ maxLength: 64 }),
});
const setArb = fc.uniqueArray(outputArb, { minLength: 1, maxLength: 20, selector: (o) => o.seq });
const saltArb = fc
  .uint8Array({ minLength: 32, maxLength: 32 })
  .map((b) => `0x${Buffer.from(b).toString("hex")}` as const);

/** The reference: Solidity's abi.encodePacked as ethers implements it. */
function referenceGamma(id: `0x${string}`, salt: `0x${string}`, items: SequencedOutput[]) {
  const sorted = [...items].sort((a, b) => (a.seq < b.seq ? -1 : 1));
  const leaves = sorted.map((i) =>
    solidityPackedKeccak256(["uint64", "bytes32"], [i.seq, keccak256(i.output)]),
  );
  return solidityPackedKeccak256(
    ["bytes32", "bytes32", "uint32", ...leaves.map(() => "bytes32")],
    [id, salt, leaves.length, ...leaves],
  );
}

describe("hashBytes", () => {
  it("is Ethereum's keccak256 for any input, across block boundaries (rate 136 bytes)", async () => {
    expect(await wasmKeccakReady).toBe(true); // the WebAssembly keccak is the one under test
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        expect(hashBytes(bytes)).toBe(keccak256(bytes));
      }),
      { numRuns: 300 },
    );
    for (const n of [0, 135, 136, 137, 272])
      expect(hashBytes(new Uint8Array(n))).toBe(keccak256(new Uint8Array(n)));
  });
});

const ID = `0x${"42".repeat(32)}` as const;
const OTHER_ID = `0x${"43".repeat(32)}` as const;

describe("output hashes α, γ", () => {
  it("α agrees with keccak256(abi.encodePacked(uint64 seq, keccak256(output))) for every output", () => {
    fc.assert(
      fc.property(setArb, (items) => {
        expect(alpha(items)).toEqual(
          items.map((i) => solidityPackedKeccak256(["uint64", "bytes32"], [i.seq, keccak256(i.output)])),
        );
      }),
    );
  });

  it("γ agrees with the reference encoding, whatever order the outputs come in", () => {
    fc.assert(
      fc.property(saltArb, setArb, fc.integer(), (salt, items, shift) => {
        const rotated = items.map((_, i) => items[(i + Math.abs(shift)) % items.length]!);
        expect(gamma(ID, salt, rotated)).toBe(referenceGamma(ID, salt, items));
      }),
    );
  });

  it("γ is bound to its allocation: the same salt and outputs give another γ in another allocation", () => {
    fc.assert(
      fc.property(saltArb, setArb, (salt, items) => {
        expect(gamma(ID, salt, items)).not.toBe(gamma(OTHER_ID, salt, items));
      }),
    );
  });

  it("γ changes when any output, sequence number, the salt or the count changes", () => {
    fc.assert(
      fc.property(saltArb, saltArb, setArb, fc.nat(), (salt, otherSalt, items, k) => {
        const g = gamma(ID, salt, items);
        const i = k % items.length;
        const tampered = items.map((it, j) =>
          j === i ? { ...it, output: new Uint8Array([...it.output, 1]) } : it,
        );
        expect(gamma(ID, salt, tampered)).not.toBe(g);
        if (otherSalt !== salt) expect(gamma(ID, otherSalt, items)).not.toBe(g);
        if (items.length > 1)
          expect(
            gamma(
              ID,
              salt,
              items.filter((_, j) => j !== i),
            ),
          ).not.toBe(g);
      }),
    );
  });

  it("binds each output to its input: the same outputs answering other inputs give another γ", () => {
    const salt = `0x${"11".repeat(32)}` as const;
    const a = [
      { seq: 1n, output: new Uint8Array([3]) },
      { seq: 2n, output: new Uint8Array([4]) },
    ];
    const swapped = [
      { seq: 1n, output: new Uint8Array([4]) },
      { seq: 2n, output: new Uint8Array([3]) },
    ];
    expect(gamma(ID, salt, a)).not.toBe(gamma(ID, salt, swapped));
  });

  it("rejects two outputs for the same input, an empty set, a short salt and an out-of-range seq", () => {
    const salt = `0x${"11".repeat(32)}` as const;
    const one = new Uint8Array([1]);
    expect(() =>
      gamma(ID, salt, [
        { seq: 5n, output: one },
        { seq: 5n, output: one },
      ]),
    ).toThrow(InvalidParameterError);
    expect(() => gamma(ID, salt, [])).toThrow(/between 1 and/);
    expect(() => gamma(ID, "0x1234", [{ seq: 1n, output: one }])).toThrow(/salt/);
    expect(() => outputLeaf({ seq: 1n << 64n, output: one })).toThrow(/seq/);
  });
});

describe("checklist commitment Γ", () => {
  const seqsArb = fc.uniqueArray(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), {
    minLength: 1,
    maxLength: 20,
  });

  it("is keccak256(abi.encode(id, salt, keccak256(abi.encodePacked(uint64[] ascending))))", () => {
    fc.assert(
      fc.property(saltArb, seqsArb, (salt, seqs) => {
        const ascending = [...seqs].sort((a, b) => (a < b ? -1 : 1));
        // abi.encodePacked pads array elements to 32 bytes: one word per position.
        const packed = `0x${ascending.map((s) => s.toString(16).padStart(64, "0")).join("")}`;
        const seqsHash = keccak256(packed);
        expect(testSeqsHash(seqs)).toBe(seqsHash);
        const ref = keccak256(
          AbiCoder.defaultAbiCoder().encode(["bytes32", "bytes32", "bytes32"], [ID, salt, seqsHash]),
        );
        expect(checklistCommitment(ID, salt, [...seqs].reverse())).toBe(ref);
        expect(checklistCommitmentOfHash(ID, salt, seqsHash as `0x${string}`)).toBe(ref);
        expect(checklistCommitment(OTHER_ID, salt, seqs)).not.toBe(ref);
      }),
    );
  });

  it("rejects a repeated position, no position, an out-of-range position and a short salt", () => {
    const salt = `0x${"11".repeat(32)}` as const;
    expect(() => testSeqsHash([3n, 3n])).toThrow(InvalidParameterError);
    expect(() => testSeqsHash([])).toThrow(InvalidParameterError);
    expect(() => testSeqsHash([1n << 64n])).toThrow(/seq/);
    expect(() => checklistCommitment(ID, "0x12", [1n])).toThrow(/salt/);
    expect(checklistCommitment(ID, salt, [1n, 2n])).not.toBe(checklistCommitment(ID, salt, [1n, 3n]));
  });
});

describe("seal", () => {
  const id = `0x${"42".repeat(32)}` as const;
  const g = `0x${"07".repeat(32)}` as const;

  it("is keccak256(abi.encode(supplier, allocationId, γ))", () => {
    const ref = keccak256(
      `0x${bob.address.slice(2).toLowerCase().padStart(64, "0")}${id.slice(2)}${g.slice(2)}`,
    );
    expect(seal(bob.address as `0x${string}`, id, g)).toBe(ref);
  });

  it("differs per Supplier, so one Supplier's seal is worthless to another", () => {
    expect(seal(bob.address as `0x${string}`, id, g)).not.toBe(seal(alice.address as `0x${string}`, id, g));
  });
});
