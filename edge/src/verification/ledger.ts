// A Supplier's record of the outputs it published, reduced to (seq, keccak256(output)): what it
// needs to compute γ over the test positions once the Customer reveals them. Persisted as an
// append-only JSON-lines file, so a Supplier that crashes and restarts still knows what it
// published (and does not publish it twice).
import { appendFileSync, existsSync, mkdirSync, readFileSync } from "node:fs";
import { dirname } from "node:path";
import { type Bytes32, gammaOfHashes, hashBytes, type SequencedOutputHash } from "@surplus/core";

export class OutputLedger {
  readonly #hashes = new Map<bigint, Bytes32>();
  readonly #file: string | undefined;

  /** With a file, entries written by an earlier run are loaded and new ones appended. */
  constructor(file?: string) {
    this.#file = file;
    if (file && existsSync(file)) {
      for (const line of readFileSync(file, "utf8").split("\n")) {
        if (!line) continue;
        try {
          const { seq, h } = JSON.parse(line) as { seq: string; h: Bytes32 };
          this.#hashes.set(BigInt(seq), h);
        } catch {
          // A torn last line from a crash mid-write: the output it described is republished.
        }
      }
    } else if (file) {
      mkdirSync(dirname(file), { recursive: true });
    }
  }

  get size(): number {
    return this.#hashes.size;
  }

  /** The first seq after every recorded one: where a restarted Supplier's output numbering resumes. */
  nextSeq(): bigint {
    let max = -1n;
    for (const seq of this.#hashes.keys()) if (seq > max) max = seq;
    return max + 1n;
  }

  has(seq: bigint): boolean {
    return this.#hashes.has(seq);
  }

  /** Records outputs (already published); returns those not recorded before. */
  record(outputs: ReadonlyArray<{ seq: bigint; output: Uint8Array }>): SequencedOutputHash[] {
    const fresh: SequencedOutputHash[] = [];
    for (const { seq, output } of outputs) {
      if (this.#hashes.has(seq)) continue;
      const outputHash = hashBytes(output);
      this.#hashes.set(seq, outputHash);
      fresh.push({ seq, outputHash });
    }
    if (this.#file && fresh.length > 0) {
      appendFileSync(
        this.#file,
        fresh.map((f) => `${JSON.stringify({ seq: f.seq.toString(), h: f.outputHash })}\n`).join(""),
      );
    }
    return fresh;
  }

  /** γ over this Supplier's outputs at the revealed test positions; undefined if any is missing. */
  gamma(allocationId: Bytes32, salt: Bytes32, testSeqs: readonly bigint[]): Bytes32 | undefined {
    const items: SequencedOutputHash[] = [];
    for (const seq of testSeqs) {
      const outputHash = this.#hashes.get(seq);
      if (!outputHash) return undefined;
      items.push({ seq, outputHash });
    }
    return gammaOfHashes(allocationId, salt, items);
  }
}
