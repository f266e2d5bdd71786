// An in-memory BridgeRegistry, for tests only.
import type { Allocation, Bytes32 } from "@surplus/core";
import type { AppliedEvent, BridgeRegistry } from "../../src/ports.ts";

export class MemoryBridgeRegistry implements BridgeRegistry {
  readonly applied = new Map<string, AppliedEvent>();
  readonly states = new Map<string, string>();
  readonly cursors = new Map<string, number>();
  /** Makes the next cursor advance throw, as a crash right before it would. */
  crashBeforeCursor = false;
  readonly #terms: (id: string) => Allocation | undefined;

  constructor(terms: (id: string) => Allocation | undefined) {
    this.#terms = terms;
  }
  async termsOf(id: Bytes32) {
    return this.#terms(id.toLowerCase());
  }
  async applyEvent(a: AppliedEvent) {
    if (this.applied.has(a.dedupKey)) return false;
    this.applied.set(a.dedupKey, a);
    if (a.state) this.states.set(a.allocationId, a.state);
    return true;
  }
  async cursor(name: string) {
    return this.cursors.get(name);
  }
  async advanceCursor(name: string, from: number | undefined, to: number) {
    if (this.crashBeforeCursor) {
      this.crashBeforeCursor = false;
      throw new Error("crashed");
    }
    if (this.cursors.get(name) !== from) return false;
    this.cursors.set(name, to);
    return true;
  }
}
