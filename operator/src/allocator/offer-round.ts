// The Allocator's use case: one scheduled round (paper §3.2 ①–③).
//  1. ingest: read the offers channel from the stored cursor, verify each envelope (schema,
//     EIP-712 signature, freshness), record the batch's offers put-if-absent (in as few requests as
//     the registry allows), then move the cursor with compare-and-set. A crash (or a failed put)
//     before the cursor moves replays the batch: nothing is stored twice, nothing is skipped.
//     The front door (front-door.ts, issue 16) refuses, with the reason, offers beyond the market's
//     bounds; before the auction it leaves out the offers of parties that are backed off or hold
//     too little free balance in the market contract, and after it any party that could not fund
//     what its allocations would lock is refused, backed off, and the auction runs again without it.
//  2. auction: run one deterministic round (core runAuction) over every open offer, with each
//     Supplier's commitments and each Customer's open windows as stored (read while step 1 runs;
//     the offers step 1 stored are added as it stored them).
//  3. commit: per Customer offer, one conditional transaction writes its allocations, its new open
//     windows and the Suppliers' new commitments, conditioned on the versions read in step 2. A
//     concurrent or retried round that got there first makes it fail; the offer then simply waits
//     for the next round. So no offer (and no Supplier capacity) is ever allocated twice. Commits
//     run concurrently when they touch disjoint offers; one that shares a Supplier offer with an
//     earlier one waits for it and is built from what that one left (the same as running them in
//     order, which is what the versions check). Customer offers whose allocations share Supplier
//     offers are committed together in one transaction (as many as it holds).
//  4. void: offers that expired unmatched are closed and their void queued, also conditionally.
//  5. publish: each allocation is published on the allocations channel as soon as its commit
//     landed, and whatever a crashed round left in the outbox as soon as the round starts; what
//     was published is then marked published, in one batch.
//     Publishing is at-least-once; consumers deduplicate by allocation id. So no allocation is
//     ever lost, and none waits for the rest of the round.
import {
  type Address,
  type AuctionInput,
  type AuctionParams,
  type AuctionResult,
  admissionViolation,
  allocationId,
  type Bytes32,
  boundsViolation,
  type Commitment,
  DEFAULT_MARKET_BOUNDS,
  DEFAULT_MECHANISM,
  type MarketDomain,
  type MechanismName,
  mapLimited,
  mechanismByName,
  mergeWindows,
  OfferState,
  type OfferStatus,
  offerId,
  offerRequirement,
  type PlannedAllocation,
  type ProtocolDelays,
  parseEnvelope,
  type ReputationRequirement,
  roundStatuses,
  runAuction,
  StaleMessageError,
  type TimeWindow,
  toWire,
  verifyParsed,
} from "@surplus/core";
import { Semaphore } from "../limits.ts";
import type {
  AllocationPublisher,
  AllocatorRegistry,
  ChannelMessage,
  GroupCommit,
  OfferSource,
  OfferStatusChannel,
  OfferStatusRegistry,
  PendingPublication,
  RecordedOffer,
  ReputationReader,
  VersionedCustomer,
  VersionedSupplier,
} from "../ports.ts";
import { type FrontDoorConfig, type FrontDoorDeps, FrontDoorRound } from "./front-door.ts";

export interface AllocatorDeps {
  readonly source: OfferSource;
  readonly registry: AllocatorRegistry;
  readonly publisher: AllocationPublisher;
  /** Funds and standing (issue 16); absent: no funds check, no backoff (the market's bounds still hold). */
  readonly frontDoor?: FrontDoorDeps;
  /** Where each offer's status is recorded for its sender (issue 17); absent: not recorded. */
  readonly statuses?: OfferStatusRegistry;
  /** Publishes the statuses that changed on each sender's own channel (issue 17). */
  readonly statusChannel?: OfferStatusChannel;
  /** Suppliers' reputations (read once a round), for Customer offers that require a minimum (issue 17). */
  readonly reputation?: ReputationReader;
  /** A Customer's standing reputation requirement, applied to each of its offers. @default none */
  readonly requirementOf?: (customer: Address) => ReputationRequirement | undefined;
}

export interface AllocatorConfig {
  readonly domain: MarketDomain;
  /** The Allocator's account (named in every allocation; signs them). */
  readonly allocator: Address;
  /** ρ: n = ⌈λΔ/ρ⌉ test inputs per allocation. */
  readonly penaltyRate: bigint;
  readonly delays?: ProtocolDelays;
  /** @default "offers" */
  readonly cursorName?: string;
  /** Messages read per batch. @default 500 */
  readonly batchSize?: number;
  /** Batches per round at most (bounds the round's duration). @default 20 */
  readonly maxBatches?: number;
  /**
   * An offer's `sentAtMs` must lie within this of when the broker stored it (or of the round's
   * clock when the channel does not say), either way: clock skew, not a day. @default 5 minutes
   */
  readonly maxSkewMs?: number;
  /**
   * Ingest stops reading further batches after this long, so that a flooded channel delays the
   * round's auction by at most this much (the backlog is read over the next rounds). @default 5 000
   */
  readonly maxIngestMs?: number;
  /** Registry writes in flight at once (commits of disjoint offers, voids). @default 8 */
  readonly writeConcurrency?: number;
  /** Market bounds, fees and backoff. @default DEFAULT_MARKET_BOUNDS; fees are needed with `deps.frontDoor` */
  readonly frontDoor?: FrontDoorConfig;
  /** The round's mechanism (core mechanism.ts; README "Allocator mechanisms"). @default DEFAULT_MECHANISM */
  readonly mechanism?: MechanismName;
}

export interface RoundReport {
  readonly read: number;
  readonly recorded: number;
  readonly rejected: ReadonlyArray<{ position: string; error: string }>;
  /** Open offers left out of this round's auction, and why (backed off, unfunded). */
  readonly refused: ReadonlyArray<{ offerId: Bytes32; account: Address; reason: string }>;
  readonly allocations: number;
  readonly voids: number;
  /** Customer commits cancelled because another round changed one of their offers first. */
  readonly conflicts: number;
  readonly published: number;
  /** Changed statuses recorded but not published on their senders' channels (a channel was unreachable). */
  readonly statusesUnpublished: number;
  /** Why they were not. */
  readonly statusError?: string;
}

const DEFAULT_WRITE_CONCURRENCY = 8;
/** Clock skew allowed between an offer's `sentAtMs` and its arrival. */
export const DEFAULT_MAX_SKEW_MS = 300_000;
const DEFAULT_MAX_INGEST_MS = 5_000;

async function ingest(
  deps: AllocatorDeps,
  config: AllocatorConfig,
  nowMs: number,
  openOffers: Promise<{ customers: VersionedCustomer[]; suppliers: VersionedSupplier[] }>,
) {
  const cap =
    config.frontDoor?.bounds?.maxOpenOffersPerAccount ?? DEFAULT_MARKET_BOUNDS.maxOpenOffersPerAccount;
  /** Open offers per account: the registry's, plus those this round records (read when first needed). */
  let openPerAccount: Map<Address, number> | undefined;
  const name = config.cursorName ?? "offers";
  const batchSize = config.batchSize ?? 500;
  const rejected: Array<{ position: string; error: string }> = [];
  let read = 0;
  /** Offers this round stored (new: open, version 0, nothing taken). */
  const fresh: RecordedOffer[] = [];
  // Admitted participants among each batch's claimed signers (only when the channel has something to read).
  let admitted: Awaited<ReturnType<NonNullable<FrontDoorDeps["participants"]>["admitted"]>> | undefined;
  const began = Date.now();
  let cursor = await deps.registry.cursor(name);
  for (let batch = 0; batch < (config.maxBatches ?? 20); batch++) {
    if (batch > 0 && Date.now() - began >= (config.maxIngestMs ?? DEFAULT_MAX_INGEST_MS)) break;
    const messages = await deps.source.read(cursor, batchSize);
    if (messages.length === 0) break;
    const offers: RecordedOffer[] = [];
    /** Where each of `offers` sits in the channel. */
    const positions: string[] = [];
    // Admission of this batch's claimed signers, read by key (nothing verified yet: a refusal
    // trusts nothing, and an admitted account's offer is verified in full below).
    if (deps.frontDoor?.participants)
      admitted = await deps.frontDoor.participants.admitted(claimedAccounts(messages));
    for (const m of messages) {
      read++;
      try {
        // The cheap refusals come first, on what the message claims (a refusal trusts nothing), so
        // a flood of strangers' or stale messages costs no signature recovery; what passes them
        // is then verified in full.
        const parsed = parseEnvelope(m.payload);
        const claimed = parsed.unverified;
        if (
          claimed.type !== "CustomerOffer" &&
          claimed.type !== "SupplierOffer" &&
          claimed.type !== "MediatorOffer"
        ) {
          throw new Error(`${claimed.type} does not belong on the offers channel`);
        }
        // The broker's clock says when it arrived: an offer that waited in the channel while
        // the Allocator was down is still fresh, one stamped hours ahead is not.
        const freshness = {
          nowMs: m.publishedAtMs ?? nowMs,
          maxAgeMs: config.maxSkewMs ?? DEFAULT_MAX_SKEW_MS,
        };
        const sentAtMs = claimed.envelope.sentAtMs;
        if (Math.abs(freshness.nowMs - sentAtMs) > freshness.maxAgeMs)
          throw new StaleMessageError(sentAtMs, freshness.nowMs, freshness.maxAgeMs);
        const stranger = admitted && admissionViolation(claimed.body.account, claimed.body.kind, admitted);
        if (stranger) throw new Error(`offer refused: ${stranger}`);
        const beyond = boundsViolation(claimed.body, config.frontDoor?.bounds);
        if (beyond) throw new Error(`offer refused: ${beyond}`);
        // Signed by the body's account (throws otherwise): from here on `claimed` is verified.
        verifyParsed(config.domain, parsed, freshness);
        offers.push({
          offerId: offerId(config.domain, claimed.body),
          offer: claimed.body,
          envelope: toWire(claimed.envelope),
          recordedAtMs: nowMs,
        });
        positions.push(m.position);
      } catch (err) {
        rejected.push({ position: m.position, error: (err as Error).message });
      }
    }
    // A put that fails (not a duplicate: the registry is unavailable) fails the round before the
    // cursor moves, so the batch is read again next time.
    // One account cannot pile up open offers without end (every round reads them all).
    if (offers.length && !openPerAccount) {
      const open = await openOffers;
      openPerAccount = new Map();
      for (const o of [...open.customers, ...open.suppliers])
        openPerAccount.set(o.offer.account, (openPerAccount.get(o.offer.account) ?? 0) + 1);
    }
    const within = offers.filter((o, i) => {
      const n = openPerAccount!.get(o.offer.account) ?? 0;
      if (n < cap) {
        openPerAccount!.set(o.offer.account, n + 1);
        return true;
      }
      rejected.push({
        position: positions[i]!,
        error: `offer refused: ${o.offer.account} has ${n} open offers; the market allows ${cap}`,
      });
      return false;
    });
    if (within.length) {
      const stored = await deps.registry.recordOffers(within);
      for (const [i, offer] of within.entries()) if (stored[i]) fresh.push(offer);
    }
    const last = messages[messages.length - 1]!.position;
    // Another round moved the cursor first: it has (or will have) recorded these too.
    if (!(await deps.registry.advanceCursor(name, cursor, last))) break;
    cursor = last;
    if (messages.length < batchSize) break;
  }
  return { read, recorded: fresh.length, rejected, fresh };
}

/**
 * Publishes outbox entries as they come (a key once per round), then marks every one that made it
 * onto the channel published, in one batch.
 */
class Publication {
  readonly #deps: AllocatorDeps;
  readonly #started = new Set<string>();
  readonly #inFlight: Promise<void>[] = [];
  readonly #sent: string[] = [];
  #failure: { error: unknown } | undefined;

  constructor(deps: AllocatorDeps) {
    this.#deps = deps;
  }

  /** Starts publishing `p` (unless this round already did) without waiting for it. */
  start(p: PendingPublication): void {
    const key = p.kind === "allocation" ? p.allocationId : p.key;
    if (this.#started.has(key)) return;
    this.#started.add(key);
    this.#inFlight.push(
      (async () => {
        if (p.kind === "allocation")
          await this.#deps.publisher.publishAllocation(p.allocationId, p.allocation);
        else await this.#deps.publisher.publishVoid(p.voidAllocation);
        this.#sent.push(key);
      })().catch((error: unknown) => {
        this.#failure ??= { error };
      }),
    );
  }

  /**
   * Waits for every publication started and marks those sent published; rejects with the first
   * failure (what failed stays in the outbox). Resolves to how many were published.
   */
  async settle(): Promise<number> {
    for (let i = 0; i < this.#inFlight.length; i++) await this.#inFlight[i];
    if (this.#sent.length) await this.#deps.registry.markAllPublished(this.#sent);
    if (this.#failure) throw this.#failure.error;
    return this.#sent.length;
  }
}

/** Runs one round at `nowMs` (passed in so tests control the clock). */
export async function runAllocatorRound(
  deps: AllocatorDeps,
  config: AllocatorConfig,
  nowMs: number,
): Promise<RoundReport> {
  // The open offers are read while the channel is: the offers this round records are added as
  // stored (a round that changed one meanwhile makes its commit fail on the version, as usual).
  const publication = new Publication(deps);
  const openOffers = deps.registry.openOffers();
  const reputations = deps.reputation?.reputations();
  const [{ read, recorded, rejected, fresh }, open] = await Promise.all([
    ingest(deps, config, nowMs, openOffers),
    openOffers,
    // What a crashed round left in the outbox goes out right away.
    deps.registry.pending().then((left) => {
      for (const p of left) publication.start(p);
    }),
  ]);
  for (const r of fresh) {
    const o = r.offer;
    if (o.kind === "customer" && !open.customers.some((c) => c.offerId === r.offerId))
      open.customers.push({
        offerId: r.offerId,
        offer: o,
        version: 0,
        openWindows: [{ start: o.start, end: o.end }],
      });
    if (o.kind === "supplier" && !open.suppliers.some((x) => x.offerId === r.offerId))
      open.suppliers.push({ offerId: r.offerId, offer: o, version: 0, commitments: [] });
  }
  const nowSeconds = Math.floor(nowMs / 1000);
  const book = await reputations;
  /** The last auction's input: what the statuses' reasons are asked of. */
  let lastInput: AuctionInput | undefined;
  /** Set by the front door: a Mediator that cannot cover its bond r·(P + D) is left out (issue 16). */
  let mediatorFunds: AuctionParams["mediatorFunds"];
  const auction = (customers: typeof open.customers, suppliers: typeof open.suppliers): AuctionResult => {
    lastInput = {
      customers: customers.map((c) => {
        const requires = offerRequirement(c.offer) ?? deps.requirementOf?.(c.offer.account);
        return {
          id: c.offerId,
          offer: c.offer,
          ...(c.openWindows ? { openWindows: c.openWindows } : {}),
          ...(requires ? { requires } : {}),
        };
      }),
      suppliers: suppliers.map((s) => ({ id: s.offerId, offer: s.offer, commitments: s.commitments })),
      params: {
        allocator: config.allocator,
        nowSeconds,
        penaltyRate: config.penaltyRate,
        ...(config.delays ? { delays: config.delays } : {}),
        mechanism: mechanismByName(config.mechanism ?? DEFAULT_MECHANISM),
        nonceBase: BigInt(nowSeconds) << 20n,
        ...(mediatorFunds ? { mediatorFunds } : {}),
        ...(book
          ? { reputation: { reputationOf: (a: Address) => book.get(a.toLowerCase() as Address) } }
          : {}),
      },
    };
    return runAuction(lastInput);
  };
  let result: AuctionResult;
  let refused: RoundReport["refused"] = [];
  /** Accounts that could not fund what the last auction gave them: their shares are not committed. */
  let unfunded: ReadonlySet<Address> = new Set();
  if (deps.frontDoor && config.frontDoor?.fees) {
    const door = new FrontDoorRound(deps.frontDoor, config.frontDoor, nowMs);
    const admitted = await door.admit(open, new Set(fresh.map((r) => r.offerId)));
    mediatorFunds = door.mediatorFunds;
    const outcome = await door.fundedAuction(admitted, auction);
    result = outcome.result;
    refused = door.refused;
    unfunded = outcome.unfunded;
  } else result = auction(open.customers, open.suppliers);

  // What this round knows of each offer: version and Supplier commitments, updated as commits land.
  const customerVersion = new Map(open.customers.map((c) => [c.offerId, c.version]));
  const supplierState = new Map(
    open.suppliers.map((s) => [s.offerId, { version: s.version, commitments: [...s.commitments] }]),
  );
  const byCustomer = new Map<Bytes32, PlannedAllocation[]>();
  for (const p of result.allocations) {
    const list = byCustomer.get(p.customerOfferId) ?? [];
    list.push(p);
    byCustomer.set(p.customerOfferId, list);
  }

  let allocations = 0;
  let conflicts = 0;
  /** Allocations committed this round, by the offers in them. */
  const committed = new Map<Bytes32, Bytes32[]>();

  // Each Customer offer's share: the allocations that fit one commit, and its windows left open.
  const maxItems = deps.registry.maxCommitItems;
  const shares: Share[] = [];
  for (const outcome of result.customers) {
    const planned = byCustomer.get(outcome.customerOfferId) ?? [];
    const version = customerVersion.get(outcome.customerOfferId);
    if (version === undefined) continue;
    if (planned.some((p) => [p.allocation.customer, ...p.allocation.suppliers].some((a) => unfunded.has(a))))
      continue;
    if (
      planned.length === 0 &&
      (!outcome.closed || result.voids.some((v) => v.offer === outcome.customerOfferId))
    )
      continue;
    // Keep the commit within the registry's limit; what does not fit stays open for the next round.
    const kept: PlannedAllocation[] = [];
    const suppliers = new Set<Bytes32>();
    let reopened: TimeWindow[] = [];
    for (const p of planned) {
      const extra = p.supplierOfferIds.filter((id) => !suppliers.has(id)).length;
      if (1 + kept.length + 1 + suppliers.size + extra > maxItems) {
        reopened.push({ start: p.allocation.start, end: p.allocation.end });
        continue;
      }
      kept.push(p);
      for (const id of p.supplierOfferIds) suppliers.add(id);
    }
    reopened = mergeWindows([...outcome.stillOpen, ...reopened]);
    shares.push({ customerOfferId: outcome.customerOfferId, version, kept, reopened, suppliers });
  }

  /** Builds one group's commit from the Supplier state as it is now, and applies it. */
  const commitGroup = async (group: readonly Share[]) => {
    const additions = new Map<Bytes32, Commitment[]>();
    for (const share of group)
      for (const p of share.kept)
        for (const id of p.supplierOfferIds) additions.set(id, [...(additions.get(id) ?? []), p.commitment]);
    const commit: GroupCommit = {
      customers: group.map((share) => ({
        offerId: share.customerOfferId,
        expectedVersion: share.version,
        openWindows: share.reopened,
        closed: share.reopened.length === 0,
      })),
      suppliers: [...additions].map(([id, added]) => {
        const state = supplierState.get(id)!;
        return { offerId: id, expectedVersion: state.version, commitments: [...state.commitments, ...added] };
      }),
      allocations: group.flatMap((share) =>
        share.kept.map((p) => ({
          allocationId: allocationId(config.domain, p.allocation),
          allocation: p.allocation,
          commitment: p.commitment,
        })),
      ),
    };
    if (!(await deps.registry.commitGroup(commit))) {
      conflicts += group.length;
      return;
    }
    allocations += commit.allocations.length;
    for (const a of commit.allocations) {
      const offers = [a.allocation.customerOffer, ...a.allocation.supplierOffers];
      for (const o of offers) committed.set(o, [...(committed.get(o) ?? []), a.allocationId]);
    }
    for (const c of commit.customers) customerVersion.set(c.offerId, c.expectedVersion + 1);
    for (const s of commit.suppliers)
      supplierState.set(s.offerId, { version: s.expectedVersion + 1, commitments: [...s.commitments] });
    for (const a of commit.allocations) publication.start({ kind: "allocation", ...a });
  };

  // Shares that take from the same Supplier offers are committed together, as far as one
  // transaction holds them; groups that still share a Supplier offer run in the auction's order,
  // the others side by side.
  const lastTouching = new Map<Bytes32, Promise<void>>();
  const commits: Promise<void>[] = [];
  const slots = new Semaphore(config.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY);
  for (const group of groupShares(shares, maxItems)) {
    const touched = new Set(group.flatMap((share) => [...share.suppliers]));
    const before = [...touched].map((id) => lastTouching.get(id)).filter((p) => p !== undefined);
    const done = (async () => {
      await Promise.all(before);
      await slots.run(() => commitGroup(group));
    })();
    // A failed commit still releases the commits behind it (they are built from what did land).
    const settled = done.catch(() => undefined);
    for (const id of touched) lastTouching.set(id, settled);
    commits.push(done);
  }
  const failedCommit = (await Promise.allSettled(commits)).find((c) => c.status === "rejected");
  if (failedCommit) {
    // The registry failed (not a conflict): what did commit is published, the rest waits.
    await publication.settle().catch(() => undefined);
    throw failedCommit.reason;
  }

  let voids = 0;
  const versions = new Map<Bytes32, number>([
    ...customerVersion,
    ...[...supplierState].map(([id, s]) => [id, s.version] as [Bytes32, number]),
  ]);
  await mapLimited(result.voids, config.writeConcurrency ?? DEFAULT_WRITE_CONCURRENCY, async (v) => {
    const version = versions.get(v.offer);
    if (version !== undefined && (await deps.registry.voidOffer(v.offer, version, v))) {
      voids++;
      publication.start({ kind: "void", key: `void#${v.offer}`, voidAllocation: v });
    }
  });
  const published = await publication.settle();
  let statusesUnpublished = 0;
  let statusError: string | undefined;
  if (deps.statuses) {
    const changed = await deps.statuses.recordStatuses(
      statusesOf({ input: lastInput, result, open, fresh, refused, committed, voided: result.voids, nowMs }),
    );
    // The statuses are recorded (their senders read them there); the channel only notifies. A
    // sender's channel that cannot be reached must not fail the round for every other party.
    if (changed.length)
      await deps.statusChannel?.publish(changed).catch((err: unknown) => {
        statusesUnpublished = changed.length;
        statusError = (err as Error).message;
      });
  }
  return {
    read,
    recorded,
    rejected,
    refused,
    allocations,
    voids,
    conflicts,
    published,
    statusesUnpublished,
    ...(statusError ? { statusError } : {}),
  };
}

/**
 * What each offer's sender reads after this round (issue 17): refused with the front door's
 * reason; a Customer offer matched, partly matched or open with why the auction left it, or
 * expired; a Supplier offer matched into this round's allocations, open (when new) or expired.
 */
function statusesOf(round: {
  input: AuctionInput | undefined;
  result: AuctionResult;
  open: { customers: VersionedCustomer[]; suppliers: VersionedSupplier[] };
  fresh: readonly RecordedOffer[];
  refused: RoundReport["refused"];
  committed: ReadonlyMap<Bytes32, Bytes32[]>;
  voided: AuctionResult["voids"];
  nowMs: number;
}): OfferStatus[] {
  const out = new Map<Bytes32, OfferStatus>();
  const set = (
    offerId: Bytes32,
    account: Address,
    kind: OfferStatus["kind"],
    state: OfferStatus["state"],
    reason?: string,
  ) =>
    out.set(offerId, {
      offerId,
      account,
      kind,
      state,
      ...(reason ? { reason } : {}),
      allocations: round.committed.get(offerId) ?? [],
      updatedAtMs: round.nowMs,
    });
  const accountOf = new Map<Bytes32, Address>([
    ...round.open.customers.map((c) => [c.offerId, c.offer.account] as [Bytes32, Address]),
    ...round.open.suppliers.map((s) => [s.offerId, s.offer.account] as [Bytes32, Address]),
  ]);
  if (round.input)
    for (const [offerId, s] of roundStatuses(round.input, round.result, round.committed))
      set(offerId, accountOf.get(offerId)!, "customer", s.state, s.reason);
  const isNew = new Set(round.fresh.map((r) => r.offerId));
  for (const s of round.open.suppliers) {
    if (round.committed.has(s.offerId)) set(s.offerId, s.offer.account, "supplier", OfferState.Matched);
    else if (isNew.has(s.offerId)) set(s.offerId, s.offer.account, "supplier", OfferState.Open);
  }
  for (const v of round.voided) {
    const account = accountOf.get(v.offer);
    const kind = round.open.customers.some((c) => c.offerId === v.offer) ? "customer" : "supplier";
    if (account && !round.committed.has(v.offer) && !out.has(v.offer))
      set(v.offer, account, kind, OfferState.ExpiredUnmatched, "its window passed without a match");
  }
  for (const r of round.refused) {
    const kind = round.open.customers.some((c) => c.offerId === r.offerId) ? "customer" : "supplier";
    set(r.offerId, r.account, kind, OfferState.Rejected, r.reason);
  }
  return [...out.values()];
}

/** One Customer offer's part of a round's commits. */
export interface Share {
  readonly customerOfferId: Bytes32;
  readonly version: number;
  readonly kept: readonly PlannedAllocation[];
  readonly reopened: readonly TimeWindow[];
  readonly suppliers: ReadonlySet<Bytes32>;
}

/** Items one share writes: its Customer offer, its allocations, its Supplier offers. */
const itemsOf = (share: Share) => 1 + share.kept.length + share.suppliers.size;

/**
 * Shares in groups of at most `maxItems` items, each one atomic commit (auction order kept within each group): a share joins
 * every group it is linked to by a common Supplier offer when they fit together, else the first it
 * fits in (groups left linked are committed one after the other); then groups are packed together
 * while they fit.
 */
export function groupShares(shares: readonly Share[], maxItems: number): Share[][] {
  type Group = { shares: Share[]; suppliers: Set<Bytes32>; items: number };
  let groups: Group[] = [];
  const merged = (parts: readonly Group[], share: Share): Group => {
    const suppliers = new Set([...parts.flatMap((g) => [...g.suppliers]), ...share.suppliers]);
    const list = [...parts.flatMap((g) => g.shares), share];
    return {
      shares: list,
      suppliers,
      items: list.reduce((n, x) => n + 1 + x.kept.length, 0) + suppliers.size,
    };
  };
  for (const share of shares) {
    const linked = groups.filter((g) => [...share.suppliers].some((id) => g.suppliers.has(id)));
    const all = merged(linked, share);
    if (linked.length > 0 && all.items <= maxItems) {
      const first = groups.indexOf(linked[0]!);
      groups = groups.filter((g) => !linked.includes(g));
      groups.splice(Math.min(first, groups.length), 0, all);
      continue;
    }
    const fits = linked.find((g) => merged([g], share).items <= maxItems);
    if (fits) groups[groups.indexOf(fits)] = merged([fits], share);
    else groups.push({ shares: [share], suppliers: new Set(share.suppliers), items: itemsOf(share) });
  }
  // Groups that share nothing still go together while they fit: fewer, larger transactions (a
  // conflict cancels the whole transaction; its shares wait for the next round, as any other).
  const packed: Group[] = [];
  for (const g of groups) {
    const bin = packed.find((b) => b.items + g.items <= maxItems);
    if (bin) {
      bin.shares.push(...g.shares);
      for (const id of g.suppliers) bin.suppliers.add(id);
      bin.items += g.items;
    } else packed.push({ shares: [...g.shares], suppliers: new Set(g.suppliers), items: g.items });
  }
  return packed.map((g) => g.shares);
}

/** The accounts the messages claim as their signers (unparseable ones are refused later, one by one). */
function claimedAccounts(messages: readonly ChannelMessage[]): Address[] {
  const out = new Set<Address>();
  for (const m of messages) {
    try {
      const account = (parseEnvelope(m.payload).unverified.body as { account?: unknown }).account;
      if (typeof account === "string") out.add(account as Address);
    } catch {
      // refused with its reason in the main pass
    }
  }
  return [...out];
}
