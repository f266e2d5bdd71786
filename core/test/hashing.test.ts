import { getBytes, keccak256, solidityPackedKeccak256 } from "ethers";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  alpha,
  commitmentOf,
  doubleGamma,
  gamma,
  hashBytes,
  InvalidParameterError,
  outputLeaf,
  type SequencedOutput,
  seal,
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
function referenceGamma(salt: `0x${string}`, items: SequencedOutput[]) {
  const sorted = [...items].sort((a, b) => (a.seq < b.seq ? -1 : 1));
  const leaves = sorted.map((i) =>
    solidityPackedKeccak256(["uint64", "bytes32"], [i.seq, keccak256(i.output)]),
  );
  return solidityPackedKeccak256(
    ["bytes32", "uint32", ...leaves.map(() => "bytes32")],
    [salt, leaves.length, ...leaves],
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

describe("output hashes α, γ, Γ", () => {
  it("α agrees with keccak256(abi.encodePacked(uint64 seq, keccak256(output))) for every output", () => {
    fc.assert(
      fc.property(setArb, (items) => {
        expect(alpha(items)).toEqual(
          items.map((i) => solidityPackedKeccak256(["uint64", "bytes32"], [i.seq, keccak256(i.output)])),
        );
      }),
    );
  });

  it("γ and Γ agree with the reference encoding, whatever order the outputs come in", () => {
    fc.assert(
      fc.property(saltArb, setArb, fc.integer(), (salt, items, shift) => {
        const rotated = items.map((_, i) => items[(i + Math.abs(shift)) % items.length]!);
        const g = referenceGamma(salt, items);
        expect(gamma(salt, rotated)).toBe(g);
        expect(doubleGamma(salt, items)).toBe(keccak256(getBytes(g)));
        expect(commitmentOf(gamma(salt, items))).toBe(keccak256(g));
      }),
    );
  });

  it("γ changes when any output, sequence number, the salt or the count changes", () => {
    fc.assert(
      fc.property(saltArb, saltArb, setArb, fc.nat(), (salt, otherSalt, items, k) => {
        const g = gamma(salt, items);
        const i = k % items.length;
        const tampered = items.map((it, j) =>
          j === i ? { ...it, output: new Uint8Array([...it.output, 1]) } : it,
        );
        expect(gamma(salt, tampered)).not.toBe(g);
        if (otherSalt !== salt) expect(gamma(otherSalt, items)).not.toBe(g);
        if (items.length > 1)
          expect(
            gamma(
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
    expect(gamma(salt, a)).not.toBe(gamma(salt, swapped));
  });

  it("rejects two outputs for the same input, an empty set, a short salt and an out-of-range seq", () => {
    const salt = `0x${"11".repeat(32)}` as const;
    const one = new Uint8Array([1]);
    expect(() =>
      gamma(salt, [
        { seq: 5n, output: one },
        { seq: 5n, output: one },
      ]),
    ).toThrow(InvalidParameterError);
    expect(() => gamma(salt, [])).toThrow(/between 1 and/);
    expect(() => gamma("0x1234", [{ seq: 1n, output: one }])).toThrow(/salt/);
    expect(() => outputLeaf({ seq: 1n << 64n, output: one })).toThrow(/seq/);
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
