// Ports of the Allocator's offer round (operator/src/allocator/offer-round.ts): what it needs from
// the offers channel, the registries and the allocations channel. adapters/src/dynamodb implements
// AllocatorRegistry over DynamoDB; unit tests use an in-memory one.
import type { TimeWindow } from "../feasibility.ts";
import type { CursorStore } from "../ports.ts";
import type {
  Allocation,
  Bytes32,
  CustomerOffer,
  MediatorOffer,
  SupplierOffer,
  VoidAllocation,
} from "../schemas.ts";
import type { Commitment } from "./types.ts";

/** One raw message of the offers channel and where it sits in the channel. */
export interface ChannelMessage {
  /** Opaque, ordered position (a Pulsar message id); reading "after" it resumes behind it. */
  readonly position: string;
  /** The message as received (a signed envelope, not yet verified). */
  readonly payload: unknown;
  /** When the broker stored it (ms since epoch), when the channel knows: freshness is judged against it. */
  readonly publishedAtMs?: number;
}

/** Reads the public offers channel. */
export interface OfferSource {
  /** Up to `max` messages after `after` (from the channel's beginning when undefined), in order. */
  read(after: string | undefined, max: number): Promise<readonly ChannelMessage[]>;
}

/** Publishes on the allocations channel. Consumers deduplicate by id, so publishing twice is harmless. */
export interface AllocationPublisher {
  publishAllocation(allocationId: Bytes32, allocation: Allocation): Promise<void>;
  publishVoid(voidAllocation: VoidAllocation): Promise<void>;
}

/** An offer as the registry stores it. */
export interface RecordedOffer {
  readonly offerId: Bytes32;
  readonly offer: SupplierOffer | CustomerOffer | MediatorOffer;
  /** The signed envelope as received, kept for audit (wire JSON). */
  readonly envelope: string;
  readonly recordedAtMs: number;
}

/** An open offer with its optimistic-concurrency version. */
export interface VersionedCustomer {
  readonly offerId: Bytes32;
  readonly offer: CustomerOffer;
  readonly version: number;
  readonly openWindows?: readonly TimeWindow[];
}
export interface VersionedSupplier {
  readonly offerId: Bytes32;
  readonly offer: SupplierOffer;
  readonly version: number;
  readonly commitments: readonly Commitment[];
}

/**
 * Everything one Customer offer's share of a round changes, committed atomically: the Customer
 * offer's open windows, the Suppliers' commitments, and the new allocations. Every offer update is
 * conditional on the version the round read, so a concurrent or retried round that already used
 * one of these offers makes the whole commit fail instead of allocating it twice.
 */
export interface CustomerCommit {
  readonly customer: {
    readonly offerId: Bytes32;
    readonly expectedVersion: number;
    readonly openWindows: readonly TimeWindow[];
    /** Nothing more can be allocated for it. */
    readonly closed: boolean;
  };
  readonly suppliers: ReadonlyArray<{
    readonly offerId: Bytes32;
    readonly expectedVersion: number;
    /** The offer's full commitment list after this commit. */
    readonly commitments: readonly Commitment[];
  }>;
  readonly allocations: ReadonlyArray<{
    readonly allocationId: Bytes32;
    readonly allocation: Allocation;
    /**
     * The share it takes of each of its Supplier offers (the same for every replica): kept with the
     * allocation so that it can be given back if the allocation lapses.
     */
    readonly commitment?: Commitment;
  }>;
}

/**
 * Several Customer offers' shares of a round committed as one atomic step: what a round writes at
 * once when their allocations share Supplier offers (one transaction instead of one per Customer
 * offer, each waiting for the one before). Every offer appears once, conditioned on the version the
 * round read and bumped by one; each allocation belongs to the Customer offer it names.
 */
export interface GroupCommit {
  readonly customers: ReadonlyArray<CustomerCommit["customer"]>;
  readonly suppliers: CustomerCommit["suppliers"];
  readonly allocations: CustomerCommit["allocations"];
}

/** An allocation or void the round decided on and that still has to be published. */
export type PendingPublication =
  | { readonly kind: "allocation"; readonly allocationId: Bytes32; readonly allocation: Allocation }
  | { readonly kind: "void"; readonly key: string; readonly voidAllocation: VoidAllocation };

export interface AllocatorRegistry extends CursorStore<string> {
  /**
   * The most items one `commit` or `commitGroup` may write (offers and allocations, each one item);
   * the round keeps every commit within it and leaves the rest for the next round.
   */
  readonly maxCommitItems: number;
  /** Stores an offer unless its id is already stored (put-if-absent); true when stored now. */
  recordOffer(offer: RecordedOffer): Promise<boolean>;
  /** `recordOffer` for a batch, in as few requests as the store allows; which ones were stored now, in order. */
  recordOffers(offers: readonly RecordedOffer[]): Promise<boolean[]>;
  openOffers(): Promise<{ customers: VersionedCustomer[]; suppliers: VersionedSupplier[] }>;
  /** Applies a commit atomically; false when any condition failed (nothing was written). */
  commit(commit: CustomerCommit): Promise<boolean>;
  /** Applies a group commit atomically; false when any condition failed (nothing was written). */
  commitGroup(group: GroupCommit): Promise<boolean>;
  /** Closes an open offer as void and queues the void for publication; false when it was not open at that version. */
  voidOffer(offerId: Bytes32, expectedVersion: number, voidAllocation: VoidAllocation): Promise<boolean>;
  /** Allocations and voids committed but not yet published (the outbox). */
  pending(): Promise<PendingPublication[]>;
  markPublished(key: string): Promise<void>;
  /** `markPublished` for each key, in as few requests as the store allows. */
  markAllPublished(keys: readonly string[]): Promise<void>;
}

/**
 * Thrown by a registry that refuses a record as invalid (too large, malformed for the store): it
 * would refuse it again, so the use case rejects the message instead of failing the round.
 */
export class RecordRefusedError extends Error {
  override name = "RecordRefusedError";
}
