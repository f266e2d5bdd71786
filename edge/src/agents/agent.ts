// What every role agent (Supplier, Customer, Mediator) does the same way (paper §3.2–§3.4):
//  - reads the allocations channel on a durable subscription: the Allocator's signed allocations
//    naming it (verified: schema, signature, freshness, a trusted Allocator) and the verifier-
//    bridge's state-change announcements, which only wake it up — the chain is the truth;
//  - remembers each allocation it is party to in an AllocationStore, so a restart resumes where it
//    was;
//  - accepts by publishing its EIP-712 Accept on the accept channel (③);
//  - drives each allocation with one `advance` per tick from the contract's record, so every
//    waiting state has its timeout exit: a signing, reveal or mediation deadline that passed is
//    expired on-chain by whichever party sees it first (the contract pays and fines);
//  - never stops on a bad message: it is logged with its reason and acknowledged.
import { join } from "node:path";
import {
  type ChannelLayout,
  type Consumer,
  type MarketChannels,
  type MessageBus,
  ownSubscription,
  PulsarTimeoutError,
  type ReceivedMessage,
} from "@surplus/adapters/pulsar";
import {
  type Address,
  type Allocation,
  AllocationState,
  allocationId,
  type Bytes32,
  type CustomerOffer,
  type MarketDomain,
  parseEnvelope,
  type SupplierOffer,
  signEnvelope,
  toWire,
  verifyParsed,
  ZERO_HASH,
} from "@surplus/core";
import type { Signer } from "ethers";
import type { ChainRecord, MarketChain, TxOutcome } from "../ports.ts";
import type { ServiceStore } from "./services.ts";
import { AllocationStore, type StoredAllocation } from "./store.ts";

/** A structured log record: an event name and its fields (the daemon prints them as JSON lines). */
export type AgentLog = (event: string, fields?: Record<string, unknown>) => void;

export interface AgentOptions {
  /** A name for logs. */
  readonly name: string;
  /** The participant's key, connected to the chain's JSON-RPC provider. */
  readonly signer: Signer;
  /** The participant's connection to Pulsar (its token's role is its address). */
  readonly bus: MessageBus;
  readonly domain: MarketDomain;
  readonly chain: MarketChain;
  readonly channels: MarketChannels;
  readonly layout: ChannelLayout;
  /** Where the agent keeps its state (allocations, output ledgers). */
  readonly dataDir: string;
  readonly services: ServiceStore;
  readonly log?: AgentLog;
  /** Allocators whose allocations are accepted. @default any */
  readonly allocators?: readonly Address[];
  /** How often each open allocation is checked against the chain. @default 1000 */
  readonly tickMs?: number;
  /** Allocations signed longer ago than this are refused. @default 1 hour */
  readonly maxAllocationAgeMs?: number;
}

/** Every role's progress on an allocation starts with these two phases. */
export interface AllocationProgress {
  phase: string;
}

const decoder = new TextDecoder();
const encoder = new TextEncoder();

export function short(hex: string): string {
  return `${hex.slice(0, 10)}…`;
}

export abstract class Agent<S extends AllocationProgress> {
  readonly options: AgentOptions;
  readonly allocations = new Map<Bytes32, StoredAllocation<S>>();
  protected readonly log: AgentLog;
  protected readonly store: AllocationStore<S>;
  #address: Address | undefined;
  #running = false;
  #loops: Array<Promise<void>> = [];
  readonly #busy = new Set<Bytes32>();
  readonly #retries = new Map<Bytes32, { at: number; failures: number; message: string }>();
  readonly #wake = new Set<Bytes32>();
  #watch: Consumer | undefined;
  /** Background work per allocation (a stream, a job, a mediation), at most one at a time. */
  protected readonly tasks = new Map<Bytes32, Promise<void>>();
  /** Allocations refused, messages dropped: counted for the status line. */
  readonly counters = { refused: 0, badMessages: 0, txs: 0 };

  readonly role: "supplier" | "customer" | "mediator";

  protected constructor(role: "supplier" | "customer" | "mediator", options: AgentOptions) {
    this.role = role;
    this.options = options;
    this.log = options.log ?? (() => undefined);
    this.store = new AllocationStore<S>(join(options.dataDir, "allocations"));
  }

  get address(): Address {
    if (!this.#address) throw new Error("the agent has not started");
    return this.#address;
  }

  get running(): boolean {
    return this.#running;
  }

  /** Whether this participant is named in the allocation in this agent's role. */
  protected abstract isParty(a: Allocation): boolean;
  /** The state of a newly seen allocation, and the commitment its Accept carries (the Customer's Γ). */
  protected abstract begin(a: Allocation, id: Bytes32): Promise<{ state: S; commitment?: Bytes32 }>;
  /** One step of the role's state machine, from the contract's record. */
  protected abstract advance(stored: StoredAllocation<S>, record: ChainRecord, nowS: number): Promise<void>;
  /** Rebuilds a stored state (JSON) into S. */
  protected abstract revive(raw: unknown): S;
  /** Role-specific start-up (posting offers). */
  protected async onStart(): Promise<void> {}
  /** Clean-up once an allocation is Closed on-chain (nothing of it is needed any more). */
  protected async onClosed(_stored: StoredAllocation<S>): Promise<void> {}
  /** Role-specific periodic work outside allocations (re-offering). */
  protected async onTick(_nowS: number): Promise<void> {}

  async start(): Promise<void> {
    this.#address = (await this.options.signer.getAddress()) as Address;
    for (const d of this.store.load(
      (raw) => this.revive(raw),
      (file, e) => this.log("store.unreadable", { file, error: e.message }),
    )) {
      if (!isFinal(d.state.phase)) this.allocations.set(d.id, d);
    }
    if (this.allocations.size) this.log("resumed", { allocations: [...this.allocations.keys()].map(short) });
    this.#watch = await this.options.bus.subscribe(
      this.options.channels.allocations,
      // Reserved to this participant's broker role by its admission: nobody else can peek, skip,
      // reset or delete it (docs/front-door.md).
      ownSubscription(this.address, "agent"),
      {
        initialPosition: "Earliest",
      },
    );
    this.#running = true;
    await this.onStart();
    this.#loops = [this.#pump(), this.#ticker()];
    this.log("started", { role: this.role, address: this.address });
  }

  /** Stops reading and ticking, and waits for running tasks to notice. */
  async stop(): Promise<void> {
    if (!this.#running) return;
    this.#running = false;
    await Promise.allSettled([...this.#loops, ...this.tasks.values()]);
    this.log("stopped", {});
  }

  /** Allocations not yet closed or lapsed. */
  active(): Array<StoredAllocation<S>> {
    return [...this.allocations.values()].filter((d) => !isFinal(d.state.phase));
  }

  protected save(stored: StoredAllocation<S>, phase?: string): void {
    if (phase && phase !== stored.state.phase) {
      stored.state.phase = phase;
      this.log(`allocation.${phase}`, { allocation: stored.id });
    }
    this.store.save(stored);
  }

  /** Sends a transaction through `call`, logs its gas; a revert is logged and returns undefined. */
  protected async tx(call: string, stored: StoredAllocation<S>, send: () => Promise<TxOutcome>) {
    try {
      const outcome = await send();
      this.counters.txs++;
      this.log("tx", { call, allocation: stored.id, gas: outcome.gasUsed.toString(), hash: outcome.hash });
      return outcome;
    } catch (error) {
      this.log("tx.failed", { call, allocation: stored.id, error: reason(error) });
      return undefined;
    }
  }

  /** Signs an offer (paper ①) and publishes it on the offers channel. */
  protected async publishOffer(
    type: "SupplierOffer" | "CustomerOffer",
    offer: SupplierOffer | CustomerOffer,
  ): Promise<void> {
    const producer = await this.options.bus.createProducer(this.options.channels.offers, {
      producerName: `offers-${this.address}`,
      // A fresh sequence per start: the broker's deduplication must not drop a new offer.
      initialSequenceId: Date.now(),
    });
    try {
      const env = await signEnvelope(
        this.options.signer,
        this.options.domain,
        type,
        offer as never,
        Date.now(),
      );
      await producer.send({ payload: encoder.encode(toWire(env)), properties: { type } });
    } finally {
      await producer.close().catch(() => undefined);
    }
  }

  /** The first message of a retained topic (a checklist), or undefined if none came within `waitMs`. */
  protected async firstMessage(topic: string, waitMs: number): Promise<ReceivedMessage | undefined> {
    const reader = await this.options.bus.createReader(topic, { startMessageId: "earliest" });
    try {
      return await reader.readNext(waitMs);
    } catch (error) {
      if (error instanceof PulsarTimeoutError) return undefined;
      throw error;
    } finally {
      await reader.close().catch(() => undefined);
    }
  }

  /**
   * Runs `work` as the allocation's background task unless one is running. A failed task is
   * retried by the next ticks with a growing pause (1, 2, 4, 8 s), and the same error is logged
   * once: e.g. the allocation's channels a moment before the bridge has granted them.
   */
  protected spawn(stored: StoredAllocation<S>, what: string, work: () => Promise<void>): void {
    if (this.tasks.has(stored.id)) return;
    const retry = this.#retries.get(stored.id);
    if (retry && Date.now() < retry.at) return;
    const task = work()
      .then(() => void this.#retries.delete(stored.id))
      .catch((error) => {
        const message = reason(error);
        const failures = (retry?.failures ?? 0) + 1;
        this.#retries.set(stored.id, {
          at: Date.now() + Math.min(8_000, 500 * 2 ** failures),
          failures,
          message,
        });
        if (message !== retry?.message)
          this.log(`${what}.failed`, { allocation: stored.id, error: message, retrying: true });
      })
      .finally(() => {
        this.tasks.delete(stored.id);
        this.#wake.add(stored.id);
      });
    this.tasks.set(stored.id, task);
  }

  async #pump(): Promise<void> {
    const consumer = this.#watch!;
    while (this.#running) {
      let m: ReceivedMessage;
      try {
        m = await consumer.receive(500);
      } catch (e) {
        if (e instanceof PulsarTimeoutError) continue;
        if (!this.#running) return;
        this.log("allocations.read-failed", { error: reason(e) });
        await sleep(1_000);
        continue;
      }
      try {
        await this.#onMessage(m);
      } catch (error) {
        this.counters.badMessages++;
        this.log("message.dropped", { topic: m.topic, messageId: m.messageId, error: reason(error) });
      }
      await consumer.ack(m).catch(() => undefined);
    }
  }

  async #onMessage(m: ReceivedMessage): Promise<void> {
    const type = m.properties.type;
    if (type === "AllocationStateChanged") {
      const id = m.properties.allocationId as Bytes32 | undefined;
      if (id && this.allocations.has(id)) this.#wake.add(id);
      return;
    }
    if (type !== "Allocation") return; // voids and other announcements are not for agents
    let raw: unknown;
    try {
      raw = JSON.parse(decoder.decode(m.payload));
    } catch {
      throw new Error("not JSON");
    }
    // Every agent reads every allocation; most name other parties. The schema first, then the
    // signature only of those this party would act on: an unsigned or forged one that names it is
    // still refused below, and one that does not name it was never its business.
    const parsed = parseEnvelope(raw);
    const claimed = parsed.unverified;
    if (claimed.type !== "Allocation") throw new Error(`expected an Allocation, got ${claimed.type}`);
    if (!this.isParty(claimed.body)) return;
    const v = verifyParsed(this.options.domain, parsed, {
      nowMs: Date.now(),
      maxAgeMs: this.options.maxAllocationAgeMs ?? 3_600_000,
    });
    if (v.type !== "Allocation") throw new Error(`expected an Allocation, got ${v.type}`);
    const a = v.body;
    const id = allocationId(this.options.domain, a);
    if (this.allocations.has(id)) return; // a redelivery or a republished allocation
    const trusted = this.options.allocators;
    if (trusted?.length && !trusted.some((t) => t.toLowerCase() === a.allocator.toLowerCase())) {
      this.counters.refused++;
      this.log("allocation.refused", { allocation: id, reason: `allocator ${a.allocator} is not trusted` });
      return;
    }
    // Delivered: the signed allocation reached this party (before it prepares anything).
    this.log("allocation.delivered", { allocation: id });
    let begun: { state: S; commitment?: Bytes32 };
    try {
      begun = await this.begin(a, id);
    } catch (error) {
      this.counters.refused++;
      this.log("allocation.refused", { allocation: id, reason: reason(error) });
      return;
    }
    const stored: StoredAllocation<S> = { id, allocation: a, seenAtMs: Date.now(), state: begun.state };
    this.#busy.add(id); // the ticker leaves it alone until the Accept is out
    this.allocations.set(id, stored);
    this.save(stored);
    this.log("allocation.received", {
      allocation: id,
      customer: a.customer,
      suppliers: a.suppliers,
      pricePerMi: a.pricePerMi.toString(),
      testCount: a.testCount,
      start: a.start,
      end: a.end,
    });
    try {
      await this.#accept(stored, begun.commitment);
    } finally {
      this.#busy.delete(id);
    }
  }

  async #accept(stored: StoredAllocation<S>, commitment?: Bytes32): Promise<void> {
    const producer = await this.options.bus.createProducer(this.options.channels.accept, {
      producerName: `accept-${this.address}-${stored.id.slice(2, 18)}`,
    });
    try {
      const env = await signEnvelope(
        this.options.signer,
        this.options.domain,
        "Accept",
        { allocationId: stored.id, account: this.address, commitment: commitment ?? ZERO_HASH },
        Date.now(),
      );
      await producer.send({
        payload: encoder.encode(toWire(env)),
        key: stored.id,
        properties: { type: "Accept" },
      });
    } finally {
      await producer.close().catch(() => undefined);
    }
    this.save(stored, "accepted");
  }

  async #ticker(): Promise<void> {
    const every = this.options.tickMs ?? 1_000;
    let last = 0;
    while (this.#running) {
      const due = Date.now() - last >= every;
      if (due) last = Date.now();
      const ids = due ? [...this.allocations.keys()] : [...this.#wake];
      this.#wake.clear();
      if (ids.length || due) {
        let nowS = Math.floor(Date.now() / 1000);
        try {
          nowS = await this.options.chain.now();
        } catch (e) {
          this.log("chain.unreachable", { error: reason(e) });
        }
        if (due) await this.onTick(nowS).catch((e) => this.log("tick.failed", { error: reason(e) }));
        await Promise.all(ids.map((id) => this.#step(id, nowS)));
      }
      await sleep(50);
    }
  }

  async #step(id: Bytes32, nowS: number): Promise<void> {
    const stored = this.allocations.get(id);
    if (!stored || this.#busy.has(id) || isFinal(stored.state.phase)) return;
    this.#busy.add(id);
    try {
      if (stored.state.phase === "allocated") {
        // Crashed between storing the allocation and sending the Accept: send it now.
        await this.#accept(stored, (stored.state as { commitment?: Bytes32 }).commitment);
      }
      const record = await this.options.chain.recordOf(id);
      if (record.state === AllocationState.Closed) {
        if (!this.tasks.has(id)) {
          this.save(stored, "closed");
          await this.onClosed(stored);
        }
        return;
      }
      await this.#timeouts(stored, record, nowS);
      await this.advance(stored, record, nowS);
    } catch (error) {
      this.log("step.failed", { allocation: id, error: reason(error) });
    } finally {
      this.#busy.delete(id);
    }
  }

  /** The exits of the waiting states every party may take (the contract decides who gets what). */
  async #timeouts(stored: StoredAllocation<S>, record: ChainRecord, nowS: number): Promise<void> {
    const a = stored.allocation;
    const w = await this.options.chain.windows();
    if (record.state === AllocationState.None) {
      // Never opened: not every party accepted before the allocation's period was over.
      const waitedS = (Date.now() - stored.seenAtMs) / 1000;
      if (nowS > a.end || waitedS > 2 * w.signing) this.save(stored, "lapsed");
      return;
    }
    const due =
      (record.state === AllocationState.Signing && nowS >= record.deadline) ||
      (record.state === AllocationState.MediationRequested && nowS >= record.deadline) ||
      (record.state === AllocationState.Running && nowS >= a.end + w.reveal && this.role !== "customer");
    if (due) await this.tx("expire", stored, () => this.options.chain.expire(a));
  }
}

export function isFinal(phase: string): boolean {
  return phase === "closed" || phase === "lapsed";
}

export function reason(error: unknown): string {
  const e = error as { shortMessage?: string; reason?: string; message?: string };
  return e?.reason ?? e?.shortMessage ?? e?.message ?? String(error);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
