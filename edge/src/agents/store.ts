// What an agent must not forget across a crash or restart: one small JSON document per allocation
// it is party to, written atomically (temporary file, then rename), so a restarted agent resumes
// every allocation from the last step it completed.
import { mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type Allocation, allocation, type Bytes32, parse, toWire } from "@surplus/core";

export interface StoredAllocation<S> {
  readonly id: Bytes32;
  readonly allocation: Allocation;
  /** Milliseconds since the epoch at which this agent first saw the allocation. */
  readonly seenAtMs: number;
  /** The role's own progress. */
  state: S;
}

export class AllocationStore<S> {
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }

  save(stored: StoredAllocation<S>): void {
    const file = join(this.#dir, `${stored.id}.json`);
    const tmp = `${file}.${process.pid}.tmp`;
    // The Customer's document holds its secret test plan: readable by this user only.
    writeFileSync(tmp, toWire(stored), { mode: 0o600 });
    renameSync(tmp, file);
  }

  /** Every stored allocation; a document that does not parse is reported through `onBad` and skipped. */
  load(revive: (raw: unknown) => S, onBad: (file: string, error: Error) => void): Array<StoredAllocation<S>> {
    const out: Array<StoredAllocation<S>> = [];
    for (const name of readdirSync(this.#dir)) {
      if (!/^0x[0-9a-f]{64}\.json$/.test(name)) continue;
      try {
        const raw = JSON.parse(readFileSync(join(this.#dir, name), "utf8")) as {
          id: Bytes32;
          allocation: unknown;
          seenAtMs: number;
          state: unknown;
        };
        out.push({
          id: raw.id,
          allocation: parse(allocation, raw.allocation, `stored allocation ${name}`),
          seenAtMs: raw.seenAtMs,
          state: revive(raw.state),
        });
      } catch (error) {
        onBad(name, error as Error);
      }
    }
    return out;
  }
}
