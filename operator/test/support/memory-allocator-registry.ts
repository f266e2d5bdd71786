// An in-memory AllocatorRegistry with the same conditional semantics as the DynamoDB one, for
// unit tests only.
import {
  type Allocation,
  type AllocatorRegistry,
  type Bytes32,
  type Commitment,
  type CustomerCommit,
  DEFAULT_DELAYS,
  type GroupCommit,
  type PendingPublication,
  type ProtocolDelays,
  type RecordedOffer,
  giveBack as sharesToGiveBack,
  type VersionedCustomer,
  type VersionedSupplier,
  type VoidAllocation,
} from "@surplus/core";

interface Row {
  record: RecordedOffer;
  status: "open" | "closed" | "void";
  version: number;
  openWindows: VersionedCustomer["openWindows"];
  commitments: VersionedSupplier["commitments"];
}

export class MemoryAllocatorRegistry implements AllocatorRegistry {
  /** As the DynamoDB registry's (one TransactWriteItems), so the round's packing is exercised here too. */
  readonly maxCommitItems = 100;
  readonly offers = new Map<Bytes32, Row>();
  readonly outbox = new Map<string, PendingPublication>();
  readonly published = new Set<string>();
  readonly cursors = new Map<string, string>();
  /** Every allocation committed, with the share it took of each of its Supplier offers. */
  readonly committed = new Map<Bytes32, { allocation: Allocation; commitment?: Commitment }>();
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
  async recordOffers(offers: readonly RecordedOffer[]) {
    const stored: boolean[] = [];
    for (const r of offers) stored.push(await this.recordOffer(r));
    return stored;
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
    return this.commitGroup({ customers: [c.customer], suppliers: c.suppliers, allocations: c.allocations });
  }
  async commitGroup(c: GroupCommit) {
    const ok =
      c.customers.every((x) => this.#isOpenAt(x.offerId, x.expectedVersion)) &&
      c.suppliers.every((s) => this.#isOpenAt(s.offerId, s.expectedVersion)) &&
      c.allocations.every((a) => !this.outbox.has(a.allocationId) && !this.published.has(a.allocationId));
    if (!ok) return false;
    for (const x of c.customers) {
      const customer = this.offers.get(x.offerId)!;
      customer.version++;
      customer.openWindows = x.openWindows;
      if (x.closed) customer.status = "closed";
    }
    for (const s of c.suppliers) {
      const row = this.offers.get(s.offerId)!;
      row.version++;
      row.commitments = s.commitments;
    }
    for (const a of c.allocations) {
      this.committed.set(a.allocationId, {
        allocation: a.allocation,
        ...(a.commitment ? { commitment: a.commitment } : {}),
      });
      this.outbox.set(a.allocationId, {
        kind: "allocation",
        allocationId: a.allocationId,
        allocation: a.allocation,
      });
    }
    return true;
  }
  /**
   * What the DynamoDB accept registry's lapse does to the offers: the allocation's commitment
   * leaves each Supplier offer, its window returns to the Customer offer (reopened) unless expired.
   */
  giveBack(allocationId: Bytes32, atMs: number, delays: ProtocolDelays = DEFAULT_DELAYS): void {
    const entry = this.committed.get(allocationId);
    if (!entry) return;
    const a = entry.allocation;
    const customer = this.offers.get(a.customerOffer);
    const customerOffer = customer?.record.offer.kind === "customer" ? customer.record.offer : undefined;
    const back = sharesToGiveBack({
      allocation: a,
      ...(entry.commitment ? { share: entry.commitment } : {}),
      ...(customer && customerOffer
        ? {
            customer: {
              offer: customerOffer,
              status: customer.status,
              openWindows: customer.openWindows ?? [],
            },
          }
        : {}),
      suppliers: [...new Set(a.supplierOffers)].flatMap((offerId) => {
        const row = this.offers.get(offerId);
        return row ? [{ offerId, commitments: row.commitments }] : [];
      }),
      nowMs: atMs,
      delays,
    });
    for (const s of back.suppliers) {
      const row = this.offers.get(s.offerId)!;
      row.commitments = s.commitments;
      row.version++;
    }
    if (customer && back.customer) {
      customer.openWindows = back.customer.openWindows;
      customer.status = "open";
      customer.version++;
    }
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
  async markAllPublished(keys: readonly string[]) {
    for (const key of keys) await this.markPublished(key);
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
