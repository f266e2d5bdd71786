// An in-memory AcceptRegistry with the same conditional semantics as the DynamoDB one
// (adapters/src/dynamodb/accept-registry.ts), for unit tests only.
import type {
  AcceptRecording,
  AcceptRegistry,
  Address,
  Allocation,
  Bytes32,
  OpenProgress,
  OpenStatus,
  ProtocolDelays,
  RecordedAccept,
} from "@surplus/core";
import type { MemoryAllocatorRegistry } from "./memory-allocator-registry.ts";

interface Row {
  allocation: Allocation;
  accepts: Map<Address, RecordedAccept>;
  status: OpenStatus;
  claimedAtMs?: number;
  transactionHash?: string;
  lapsedReason?: string;
}

export class MemoryAcceptRegistry implements AcceptRegistry {
  readonly #rows = new Map<Bytes32, Row>();
  readonly cursors = new Map<string, string>();
  readonly #offers: MemoryAllocatorRegistry | undefined;

  /** With `offers`: sees the allocations committed there, and a lapse gives their share back to it. */
  constructor(offers?: MemoryAllocatorRegistry) {
    this.#offers = offers;
  }

  /** The allocations, including those the offer registry committed since the last look. */
  get rows(): Map<Bytes32, Row> {
    for (const [id, c] of this.#offers?.committed ?? []) if (!this.#rows.has(id)) this.add(id, c.allocation);
    return this.#rows;
  }

  /** What the offer round's commit does: the allocation starts collecting accepts. */
  add(allocationId: Bytes32, allocation: Allocation): void {
    this.#rows.set(allocationId, { allocation, accepts: new Map(), status: "awaiting" });
  }

  async allocation(id: Bytes32) {
    return this.rows.get(id)?.allocation;
  }
  async recordAccept(a: RecordedAccept): Promise<AcceptRecording> {
    const row = this.rows.get(a.allocationId);
    if (!row) return "unknown-allocation";
    if (row.accepts.has(a.account)) return "duplicate";
    if (row.status === "opened" || row.status === "lapsed") return "finished";
    row.accepts.set(a.account, a);
    return "recorded";
  }
  async awaitingOpen() {
    return [...this.rows]
      .filter(([, r]) => r.status === "awaiting" || r.status === "submitting")
      .map(([id]) => id);
  }
  async progress(id: Bytes32): Promise<OpenProgress | undefined> {
    const r = this.rows.get(id);
    if (!r) return undefined;
    return {
      allocationId: id,
      allocation: r.allocation,
      accepts: new Map(r.accepts),
      status: r.status,
      ...(r.claimedAtMs !== undefined ? { claimedAtMs: r.claimedAtMs } : {}),
      ...(r.transactionHash !== undefined ? { transactionHash: r.transactionHash } : {}),
    };
  }
  async claimOpen(id: Bytes32, nowMs: number, staleClaimAtMs?: number) {
    const r = this.rows.get(id);
    if (!r) return false;
    const free =
      staleClaimAtMs === undefined
        ? r.status === "awaiting"
        : r.status === "submitting" && r.claimedAtMs === staleClaimAtMs;
    if (!free) return false;
    r.status = "submitting";
    r.claimedAtMs = nowMs;
    return true;
  }
  async releaseOpen(id: Bytes32, claimedAtMs: number) {
    const r = this.rows.get(id);
    if (r?.status === "submitting" && r.claimedAtMs === claimedAtMs) {
      r.status = "awaiting";
      delete r.claimedAtMs;
    }
  }
  async recordOpenSent(id: Bytes32, transactionHash: string) {
    const r = this.rows.get(id);
    if (r) r.transactionHash = transactionHash;
  }
  async markOpened(id: Bytes32, opened: { atMs: number; transactionHash?: string }) {
    const r = this.rows.get(id);
    if (!r) return;
    r.status = "opened";
    if (opened.transactionHash) r.transactionHash = opened.transactionHash;
  }
  async markLapsed(
    id: Bytes32,
    lapsed: { atMs: number; reason: string; claimedAtMs?: number; delays?: ProtocolDelays },
  ) {
    const r = this.rows.get(id);
    if (!r) return false;
    const unclaimed = r.status === "awaiting";
    const ours =
      r.status === "submitting" && lapsed.claimedAtMs !== undefined && r.claimedAtMs === lapsed.claimedAtMs;
    if (!unclaimed && !ours) return false;
    r.status = "lapsed";
    r.lapsedReason = lapsed.reason;
    delete r.claimedAtMs;
    this.#offers?.giveBack(id, lapsed.atMs, lapsed.delays);
    return true;
  }
  async cursor(name: string) {
    return this.cursors.get(name);
  }
  async advanceCursor(name: string, from: string | undefined, to: string) {
    if (this.cursors.get(name) !== from) return false;
    this.cursors.set(name, to);
    return true;
  }
}
