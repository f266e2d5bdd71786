// The Allocator's accept round (paper §3.2 ④): collect the parties' accepts and, when every party
// of an allocation has accepted, open it on the contract with their signatures.
//  1. ingest: read the accept channel from the stored cursor; verify each envelope (schema, EIP-712
//     signature, freshness); check its signer is a party of an allocation this Allocator made;
//     record the accept put-if-absent per (allocation, party) — the Customer's carries Γ — then
//     move the cursor with compare-and-set. A bad message is reported and skipped; a crash before
//     the cursor moves replays the batch, and the replayed accepts are duplicates.
//  2. open: for each allocation still collecting accepts, once every party (Customer, Mediator,
//     every Supplier) has accepted, claim the submission (compare-and-set in the registry, so
//     concurrent runs never both send it), submit `open(terms, sigs)` — the opener checks the
//     chain first and treats "already open" as success — and record it as opened. A claim left by
//     a run that crashed expires after `openClaimTtlMs`; the next run then asks the chain whether
//     that submission landed before sending anything.
//  3. lapse: an allocation not accepted by every party before its signing deadline
//     (`start − signingLeadSeconds`), or declined by a party, is never opened: it is marked lapsed
//     and reported; accepts arriving later are refused. In the same atomic step its share is given
//     back in the offers registry — its commitment on each Supplier offer, and its window on the
//     Customer offer unless that offer has expired (t_e) — so the next offer round can match them
//     again; a retried or concurrent run that loses the lapse gives back nothing.
import {
  type Address,
  type Allocation,
  type AllocationState,
  type Bytes32,
  type MarketDomain,
  type ProtocolDelays,
  RecordRefusedError,
  toWire,
  verifyEnvelope,
  ZERO_HASH,
} from "@surplus/core";
import { Semaphore } from "../limits.ts";
import type {
  AcceptRegistry,
  AcceptSignatures,
  AllocationOpener,
  OfferSource,
  OpenProgress,
} from "../ports.ts";

export interface AcceptRoundDeps {
  /** The accept channel (read like the offers channel: ordered messages after a position). */
  readonly source: OfferSource;
  readonly registry: AcceptRegistry;
  readonly opener: AllocationOpener;
}

export interface AcceptRoundConfig {
  readonly domain: MarketDomain;
  /** The Allocator's account: only its allocations are collected (only it may `open` them). */
  readonly allocator: Address;
  /** @default "accepts" */
  readonly cursorName?: string;
  /** Messages read per batch. @default 500 */
  readonly batchSize?: number;
  /** Batches per round at most (bounds the round's duration). @default 20 */
  readonly maxBatches?: number;
  /** Accepts whose envelope is older than this are rejected. @default 10 minutes */
  readonly maxAcceptAgeMs?: number;
  /**
   * Every party must have accepted this many seconds before the allocation's start, or it lapses
   * (the signing deadline). @default 0: the start itself
   */
  readonly signingLeadSeconds?: number;
  /** An `open` claim older than this belongs to a run that crashed; the next run takes it over. @default 120 000 */
  readonly openClaimTtlMs?: number;
  /** δ_alloc, δ_setup, as the offer round uses them: a lapse reopens a Customer offer only before its t_e. @default DEFAULT_DELAYS */
  readonly delays?: ProtocolDelays;
  /** Allocation records read at once when collecting. @default 8 */
  readonly readConcurrency?: number;
  /** Allocations opened side by side at most. @default 8 */
  readonly openConcurrency?: number;
}

/** An allocation this round opened on-chain. */
export interface OpenedAllocation {
  readonly allocationId: Bytes32;
  readonly transactionHash: string;
  readonly blockNumber: number;
  readonly gasUsed: bigint;
  /** The state right after `open` (Running when every deposit could be locked). */
  readonly state: AllocationState;
  /** When the last party's accept was recorded. */
  readonly acceptedAtMs: number;
}

export interface AcceptRoundReport {
  readonly read: number;
  readonly recorded: number;
  /** Accepts of a party whose accept was recorded before (replays, retried batches). */
  readonly duplicates: number;
  /** Messages refused, with the reason (bad envelope, wrong type, not a party, too late, …). */
  readonly rejected: ReadonlyArray<{ position: string; error: string }>;
  readonly opened: readonly OpenedAllocation[];
  /** Found open on-chain already (a crashed run's submission landed): recorded as opened. */
  readonly alreadyOpen: readonly Bytes32[];
  /** Never opened: the signing deadline passed without every accept, or a party declined. */
  readonly lapsed: ReadonlyArray<{ allocationId: Bytes32; reason: string }>;
  /** `open` failed (retried next round until the signing deadline). */
  readonly failed: ReadonlyArray<{ allocationId: Bytes32; error: string }>;
}

const delaysOf = (config: AcceptRoundConfig) => (config.delays ? { delays: config.delays } : {});

/** Customer, Mediator, then the Suppliers in order: everyone who must accept. */
export function partiesOf(a: Allocation): Address[] {
  return [a.customer, a.mediator, ...a.suppliers];
}

/** The contract's `Signatures` from every party's recorded accept. */
export function signaturesOf(p: OpenProgress): AcceptSignatures {
  const of = (account: Address) => {
    const accept = p.accepts.get(account);
    if (!accept) throw new Error(`${account} has not accepted ${p.allocationId}`);
    return accept;
  };
  const customer = of(p.allocation.customer);
  return {
    customer: customer.signature,
    commitment: customer.commitment,
    mediator: of(p.allocation.mediator).signature,
    suppliers: p.allocation.suppliers.map((s) => of(s).signature),
  };
}

interface Ingested {
  read: number;
  recorded: number;
  duplicates: number;
  rejected: Array<{ position: string; error: string }>;
  lapsed: Array<{ allocationId: Bytes32; reason: string }>;
}

/** Checks one verified accept or decline against the allocation it names; returns its terms. */
/** An accept or decline that is wrong in itself (not a failure of the registry). */
class RejectedAccept extends Error {
  override name = "RejectedAccept";
}

async function termsFor(
  registry: AcceptRegistry,
  config: AcceptRoundConfig,
  id: Bytes32,
  account: Address,
): Promise<Allocation> {
  const terms = await registry.allocation(id);
  if (!terms) throw new RejectedAccept(`unknown allocation ${id}`);
  if (terms.allocator !== config.allocator)
    throw new RejectedAccept(`allocation ${id} is another Allocator's`);
  if (!partiesOf(terms).includes(account)) throw new RejectedAccept(`${account} is not a party of ${id}`);
  return terms;
}

/** Records one verified accept (or decline); a bad one is rejected with its reason. */
async function recordOne(
  deps: AcceptRoundDeps,
  config: AcceptRoundConfig,
  nowMs: number,
  position: string,
  verified: ReturnType<typeof verifyEnvelope>,
  out: Ingested,
): Promise<void> {
  try {
    if (verified.type === "Decline") {
      const { allocationId: id, account, reason } = verified.body;
      await termsFor(deps.registry, config, id, account);
      const why = `declined by ${account}${reason ? `: ${reason}` : ""}`;
      if (await deps.registry.markLapsed(id, { atMs: nowMs, reason: why, ...delaysOf(config) }))
        out.lapsed.push({ allocationId: id, reason: why });
      return;
    }
    if (verified.type !== "Accept")
      throw new RejectedAccept(`${verified.type} does not belong on the accept channel`);
    const { allocationId: id, account, commitment } = verified.body;
    const terms = await termsFor(deps.registry, config, id, account);
    // The contract checks the other parties' Accept over a zero commitment: any other value
    // would make the whole `open` revert.
    if (account !== terms.customer && commitment !== ZERO_HASH)
      throw new RejectedAccept(`${account}'s accept of ${id} carries a commitment; only the Customer's does`);
    const outcome = await deps.registry.recordAccept({
      allocationId: id,
      account,
      signature: verified.envelope.signature,
      commitment,
      envelope: toWire(verified.envelope),
      recordedAtMs: nowMs,
    });
    if (outcome === "recorded") out.recorded++;
    else if (outcome === "duplicate") out.duplicates++;
    else if (outcome === "finished")
      throw new RejectedAccept(`allocation ${id} was opened or lapsed already`);
    else throw new RejectedAccept(`unknown allocation ${id}`);
  } catch (err) {
    // A bad message is rejected with its reason; a registry that fails fails the round before
    // the cursor moves, so the accept is read again (recording it is idempotent). A request the
    // registry refuses as invalid would be refused again: rejected too.
    if (!(err instanceof RejectedAccept || err instanceof RecordRefusedError)) throw err;
    out.rejected.push({ position, error: (err as Error).message });
  }
}

async function ingest(deps: AcceptRoundDeps, config: AcceptRoundConfig, nowMs: number): Promise<Ingested> {
  const name = config.cursorName ?? "accepts";
  const batchSize = config.batchSize ?? 500;
  const out: Ingested = { read: 0, recorded: 0, duplicates: 0, rejected: [], lapsed: [] };
  let cursor = await deps.registry.cursor(name);
  for (let batch = 0; batch < (config.maxBatches ?? 20); batch++) {
    const messages = await deps.source.read(cursor, batchSize);
    if (messages.length === 0) break;
    // Accepts of a batch are recorded side by side (each is one conditional write), except that
    // a party's messages about one allocation keep their channel order: its first accept stands.
    const chains = new Map<string, Promise<void>>();
    const slots = new Semaphore(config.readConcurrency ?? 8);
    for (const m of messages) {
      out.read++;
      let verified: ReturnType<typeof verifyEnvelope>;
      try {
        verified = verifyEnvelope(config.domain, m.payload, {
          nowMs,
          maxAgeMs: config.maxAcceptAgeMs ?? 600_000,
        });
      } catch (err) {
        out.rejected.push({ position: m.position, error: (err as Error).message });
        continue;
      }
      const body = verified.body as { allocationId?: string; account?: string };
      const key = `${body.allocationId}|${body.account}`;
      const handled = (chains.get(key) ?? Promise.resolve()).then(() =>
        slots.run(() => recordOne(deps, config, nowMs, m.position, verified, out)),
      );
      chains.set(key, handled);
    }
    await Promise.all(chains.values());
    // Rejections reported in channel order, however the writes interleaved.
    const order = new Map(messages.map((m, i) => [m.position, i]));
    out.rejected.sort((a, b) => (order.get(a.position) ?? -1) - (order.get(b.position) ?? -1));
    const last = messages[messages.length - 1]!.position;
    // Another run moved the cursor first: it has (or will have) recorded these too.
    if (!(await deps.registry.advanceCursor(name, cursor, last))) break;
    cursor = last;
    if (messages.length < batchSize) break;
  }
  return out;
}

/** Runs one accept round at `nowMs` (passed in so tests control the clock). */
export async function runAcceptRound(
  deps: AcceptRoundDeps,
  config: AcceptRoundConfig,
  nowMs: number,
): Promise<AcceptRoundReport> {
  const { read, recorded, duplicates, rejected, lapsed } = await ingest(deps, config, nowMs);
  const opened: OpenedAllocation[] = [];
  const alreadyOpen: Bytes32[] = [];
  const failed: Array<{ allocationId: Bytes32; error: string }> = [];
  const claimTtl = config.openClaimTtlMs ?? 120_000;

  // Every record read up front, side by side (usually nothing is awaiting: one query, no reads).
  const ids = await deps.registry.awaitingOpen();
  const records: Array<OpenProgress | undefined> = new Array(ids.length);
  let next = 0;
  const reader = async () => {
    while (next < ids.length) {
      const i = next++;
      records[i] = await deps.registry.progress(ids[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.readConcurrency ?? 8, ids.length) }, reader));

  // Allocations are independent: each is claimed, opened and recorded on its own, several at a
  // time (the opener sends one transaction at a time, so its account's nonces stay in order).
  const openOne = async (i: number, id: Bytes32): Promise<void> => {
    const p = records[i];
    if (!p || p.status === "opened" || p.status === "lapsed") return;
    let staleClaim: number | undefined;
    if (p.status === "submitting") {
      // Another run is submitting it right now: leave it to that run.
      if (p.claimedAtMs !== undefined && nowMs - p.claimedAtMs < claimTtl) return;
      staleClaim = p.claimedAtMs;
    }
    const deadline = p.allocation.start - (config.signingLeadSeconds ?? 0);
    if (nowMs / 1000 >= deadline) {
      // A crashed run may have sent `open` before the deadline: the chain decides.
      if (staleClaim !== undefined && (await deps.opener.stateOf(id))) {
        await deps.registry.markOpened(id, {
          atMs: nowMs,
          ...(p.transactionHash ? { transactionHash: p.transactionHash } : {}),
        });
        alreadyOpen.push(id);
        return;
      }
      const missing = partiesOf(p.allocation).filter((x) => !p.accepts.has(x));
      const reason = `signing deadline ${deadline} passed${missing.length ? ` without the accept of ${missing.join(", ")}` : ""}`;
      if (
        await deps.registry.markLapsed(id, {
          atMs: nowMs,
          reason,
          ...(staleClaim !== undefined ? { claimedAtMs: staleClaim } : {}),
          ...delaysOf(config),
        })
      )
        lapsed.push({ allocationId: id, reason });
      return;
    }
    if (!partiesOf(p.allocation).every((x) => p.accepts.has(x))) return;
    if (!(await deps.registry.claimOpen(id, nowMs, staleClaim))) return;
    let sent = false;
    try {
      const outcome = await deps.opener.open(id, p.allocation, signaturesOf(p), async (hash) => {
        sent = true;
        await deps.registry.recordOpenSent(id, hash);
      });
      if (outcome.kind === "opened") {
        await deps.registry.markOpened(id, { atMs: nowMs, transactionHash: outcome.transactionHash });
        opened.push({
          allocationId: id,
          transactionHash: outcome.transactionHash,
          blockNumber: outcome.blockNumber,
          gasUsed: outcome.gasUsed,
          state: outcome.state,
          acceptedAtMs: Math.max(...[...p.accepts.values()].map((a) => a.recordedAtMs)),
        });
      } else {
        await deps.registry.markOpened(id, {
          atMs: nowMs,
          ...(p.transactionHash ? { transactionHash: p.transactionHash } : {}),
        });
        alreadyOpen.push(id);
      }
    } catch (err) {
      failed.push({ allocationId: id, error: (err as Error).message });
      // Never sent: the next round may try again at once. Sent: it may still be mined, so the
      // claim stays until it is stale and the next run asks the chain first.
      if (!sent) await deps.registry.releaseOpen(id, nowMs);
    }
  };
  let nextOpen = 0;
  const opener = async () => {
    while (nextOpen < ids.length) {
      const i = nextOpen++;
      await openOne(i, ids[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(config.openConcurrency ?? 8, ids.length) }, opener));
  return { read, recorded, duplicates, rejected, opened, alreadyOpen, lapsed, failed };
}
