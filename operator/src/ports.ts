// Every port of the operator's use cases, in one place: the use cases import their ports from here
// and nowhere else. Two kinds:
//  - ports an adapter in `adapters/` implements (registries, channels, the chain): defined in core
//    beside the records they carry, and re-exported here. They cannot live in this package: the
//    adapters would then depend on the operator, which depends on the adapters (admission grants).
//  - ports only the operator knows (the bridge's announcements and channel provisioning, the lease
//    and clock of the cloud cadence, status and reputation sinks, the admission record): defined
//    here. Their adapters conform by shape, checked where compose.ts is called.
import type {
  Address,
  AdmittedKind,
  Allocation,
  AllocationState,
  Bytes32,
  HistoryEntry,
  OfferStatus,
  ReputationLedger,
} from "@surplus/core";

export type {
  AcceptRecording,
  AcceptRegistry,
  AcceptSignatures,
  AdmittedParticipants,
  AllocationOpener,
  AllocationPublisher,
  AllocatorRegistry,
  AppliedEvent,
  BridgeRegistry,
  ChainReader,
  ChannelMessage,
  CursorStore,
  CustomerCommit,
  FreeBalances,
  GroupCommit,
  MarketEvent,
  OfferSource,
  OfferStatusRegistry,
  OpenOutcome,
  OpenProgress,
  PendingAllocations,
  PendingPublication,
  RecordedAccept,
  RecordedOffer,
  ReputationLedger,
  StandingRegistry,
  VersionedCustomer,
  VersionedSupplier,
} from "@surplus/core";

/** A change of an allocation's state, as the bridge announces it on the allocations channel. */
export interface StateAnnouncement {
  readonly allocationId: Bytes32;
  readonly event: string;
  readonly state?: AllocationState;
  readonly blockNumber: number;
  readonly transactionHash: string;
  readonly args: Readonly<Record<string, unknown>>;
}

export interface Announcer {
  /** Publishes on the allocations channel, at least once; `dedupKey` lets receivers drop repeats. */
  announce(announcement: StateAnnouncement, dedupKey: string): Promise<void>;
}

export interface ChannelProvisioner {
  /** Creates the allocation's private topics with Table 4's grants (idempotent). */
  provision(allocationId: Bytes32, terms: Allocation): Promise<void>;
  /** Revokes every grant on them (idempotent). */
  revoke(allocationId: Bytes32, terms: Allocation): Promise<void>;
}

/** The reputation the bridge keeps at each close: the ledger, and the history the registry mirrored. */
export interface ReputationKeeping {
  readonly ledger: ReputationLedger;
  historyOf(allocationId: Bytes32): Promise<readonly HistoryEntry[]>;
}

/** Suppliers' reputations, read once a round (issue 17). */
export type ReputationReader = Pick<ReputationLedger, "reputations">;

/** Publishes the offer statuses that changed on each sender's own status channel (issue 17). */
export interface OfferStatusChannel {
  publish(statuses: readonly OfferStatus[]): Promise<void>;
}

/** Where admissions are recorded (DynamoParticipants in the deployed and the local market). */
export interface AdmissionRecord {
  admit(account: Address, kind: AdmittedKind, atMs: number): Promise<void>;
}

/** At most one holder at a time until `untilMs` (adapters DynamoLease). */
export interface Lease {
  acquire(holder: string, untilMs: number, nowMs: number): Promise<boolean>;
  release(holder: string): Promise<void>;
}

/** What the Lambda context offers the cadence (context.getRemainingTimeInMillis()). */
export interface RemainingTime {
  getRemainingTimeInMillis(): number;
}

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}
