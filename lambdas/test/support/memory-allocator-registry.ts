// An in-memory AllocatorRegistry with the same conditional semantics as the DynamoDB one, for
// unit tests only.
import type {
  AllocatorRegistry,
  Bytes32,
  CustomerCommit,
  PendingPublication,
  RecordedOffer,
  VersionedCustomer,
  VersionedSupplier,
  VoidAllocation,
} from "@surplus/core";

interface Row {
  record: RecordedOffer;
  status: "open" | "closed" | "void";
  version: number;
  openWindows: VersionedCustomer["openWindows"];
  commitments: VersionedSupplier["commitments"];
}

export class MemoryAllocatorRegistry implements AllocatorRegistry {
  readonly offers = new Map<Bytes32, Row>();
  readonly outbox = new Map<string, PendingPublication>();
  readonly published = new Set<string>();
  readonly cursors = new Map<string, string>();
  /** Makes the next `pending()` throw, as a crash between commit and publish. */
  crashBeforePublish = false;

  async recordOffer(r: RecordedOffer) {
    if (this.offers.has(r.offerId)) return false;
    this.offers.set(r.offerId, {
      record: r,
      status: "open",
      version: 0,
      openWindows: r.offer.kind === "customer" ? [{ start: r.offer.start, end: r.offer.end }] : undefined,
      commitments: [],
    });
    return true;
  }
  async openOffers() {
    const customers: VersionedCustomer[] = [];
    const suppliers: VersionedSupplier[] = [];
    for (const [offerId, row] of this.offers) {
      if (row.status !== "open") continue;
      const o = row.record.offer;
      if (o.kind === "customer")
        customers.push({
          offerId,
          offer: o,
          version: row.version,
          ...(row.openWindows ? { openWindows: row.openWindows } : {}),
        });
      if (o.kind === "supplier")
        suppliers.push({ offerId, offer: o, version: row.version, commitments: row.commitments });
    }
    return { customers, suppliers };
  }
  #isOpenAt(id: Bytes32, version: number) {
    const row = this.offers.get(id);
    return row?.status === "open" && row.version === version;
  }
  async commit(c: CustomerCommit) {
    const ok =
      this.#isOpenAt(c.customer.offerId, c.customer.expectedVersion) &&
      c.suppliers.every((s) => this.#isOpenAt(s.offerId, s.expectedVersion)) &&
      c.allocations.every((a) => !this.outbox.has(a.allocationId) && !this.published.has(a.allocationId));
    if (!ok) return false;
    const customer = this.offers.get(c.customer.offerId)!;
    customer.version++;
    customer.openWindows = c.customer.openWindows;
    if (c.customer.closed) customer.status = "closed";
    for (const s of c.suppliers) {
      const row = this.offers.get(s.offerId)!;
      row.version++;
      row.commitments = s.commitments;
    }
    for (const a of c.allocations)
      this.outbox.set(a.allocationId, {
        kind: "allocation",
        allocationId: a.allocationId,
        allocation: a.allocation,
      });
    return true;
  }
  async voidOffer(offerId: Bytes32, expectedVersion: number, v: VoidAllocation) {
    if (!this.#isOpenAt(offerId, expectedVersion)) return false;
    const row = this.offers.get(offerId)!;
    row.version++;
    row.status = "void";
    this.outbox.set(`void#${offerId}`, { kind: "void", key: `void#${offerId}`, voidAllocation: v });
    return true;
  }
  async pending() {
    if (this.crashBeforePublish) {
      this.crashBeforePublish = false;
      throw new Error("crashed");
    }
    return [...this.outbox.values()];
  }
  async markPublished(key: string) {
    this.outbox.delete(key);
    this.published.add(key);
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
