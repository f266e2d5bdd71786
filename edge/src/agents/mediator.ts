// The Mediator agent (paper ⑨–⑪): accepts the allocations that name it, and when one is in
// MediationRequested re-executes the inputs at the revealed test positions, read from the retained
// input channel, with the revealed salt; checks each Supplier's live outputs at those positions —
// only what its output channel held before the checklist was published counts: an output sent once
// the positions were known is not live (a lazy Supplier computing them late) — and posts its
// finding to the contract before the mediation deadline. The contract assigns fault and pays.
import { allocationChannels, PulsarTimeoutError, type ReceivedMessage } from "@surplus/adapters/pulsar";
import { NO_RESULT } from "@surplus/contracts";
import {
  type Address,
  type Allocation,
  AllocationState,
  type Bytes32,
  checklist as checklistSchema,
  type Hex,
  parse,
} from "@surplus/core";
import { readStream, seqOf } from "../channels/pulsar.ts";
import type { ChainRecord, ResultArg } from "../ports.ts";
import { ServiceSandbox } from "../sandbox/index.ts";
import { liveOutputs, mediate } from "../verification/mediation.ts";
import { Agent, type AgentOptions, type AllocationProgress } from "./agent.ts";
import type { StoredAllocation } from "./store.ts";

export interface MediatorState extends AllocationProgress {
  /** allocated → accepted → mediating → mediated → closed (or lapsed). */
  phase: "allocated" | "accepted" | "mediating" | "mediated" | "closed" | "lapsed";
}

export class MediatorAgent extends Agent<MediatorState> {
  constructor(options: AgentOptions) {
    super("mediator", options);
  }

  protected isParty(a: Allocation): boolean {
    return a.mediator.toLowerCase() === this.address.toLowerCase();
  }

  protected revive(raw: unknown): MediatorState {
    return raw as MediatorState;
  }

  /** Accepts only what it could re-execute: the named service must be available. */
  protected async begin(a: Allocation): Promise<{ state: MediatorState }> {
    await this.options.services.get(a.serviceHash);
    return { state: { phase: "allocated" } };
  }

  protected async advance(
    stored: StoredAllocation<MediatorState>,
    record: ChainRecord,
    nowS: number,
  ): Promise<void> {
    if (record.state !== AllocationState.MediationRequested || nowS >= record.deadline) return;
    if (stored.state.phase === "accepted") this.save(stored, "mediating");
    if (stored.state.phase === "mediating")
      this.spawn(stored, "mediation", () => this.#mediate(stored, record));
  }

  async #mediate(stored: StoredAllocation<MediatorState>, record: ChainRecord): Promise<void> {
    const a = stored.allocation;
    const ch = allocationChannels(stored.id, a.suppliers, this.options.layout);
    const started = Date.now();
    const m = await this.firstMessage(ch.checklist, 10_000);
    if (!m) throw new Error("the checklist channel is empty");
    const c = parse(checklistSchema, JSON.parse(new TextDecoder().decode(m.payload)), "checklist");
    const wanted = new Set(c.testSeqs);
    this.log("mediation.started", {
      allocation: stored.id,
      tests: c.testSeqs.length,
      mediating: record.mediating,
    });
    const inputs = await readStream(this.options.bus, ch.input, wanted);
    const published = new Map<Address, Map<bigint, Uint8Array>>();
    const results: ResultArg[] = [];
    let late = 0;
    for (const s of a.suppliers) {
      const topic = ch.outputs[s.toLowerCase()]!;
      const found = await this.#liveOutputs(topic, wanted, m.publishTime);
      late += found.late;
      published.set(s, found.live);
      results.push(await this.#resultOf(topic, s));
    }
    if (late) this.log("mediation.late-outputs", { allocation: stored.id, late });
    const wasm = await this.options.services.get(a.serviceHash);
    const sandbox = ServiceSandbox.load(wasm, { expectedHash: a.serviceHash });
    let finding: Awaited<ReturnType<typeof mediate>>;
    try {
      finding = await mediate({
        checklist: { allocationId: stored.id, salt: c.salt, testSeqs: c.testSeqs },
        inputs: new Map([...inputs].map(([s, msg]) => [s, msg.payload])),
        published,
        suppliers: a.suppliers,
        sandbox,
      });
    } finally {
      await sandbox.close();
    }
    if (!finding.gammaM) throw new Error("a test input is missing from the retained input channel");
    const lazy = finding.lazyMask & record.mediating;
    const tx = await this.tx("mediate", stored, () =>
      this.options.chain.mediate(a, finding.gammaM as Bytes32, lazy, results),
    );
    if (tx) {
      this.save(stored, "mediated");
      this.log("mediation.done", { allocation: stored.id, lazyMask: lazy, ms: Date.now() - started });
    }
  }

  /**
   * A Supplier's live outputs at the test positions (`liveOutputs`), reading its retained output
   * channel to the end; `beforeMs` is the checklist's publish time, set by the broker.
   */
  async #liveOutputs(topic: string, wanted: ReadonlySet<bigint>, beforeMs: number) {
    const reader = await this.options.bus.createReader(topic, { startMessageId: "earliest" });
    const all: ReceivedMessage[] = [];
    try {
      for (;;) {
        try {
          all.push(await reader.readNext(1_000));
        } catch (error) {
          if (error instanceof PulsarTimeoutError) break; // the end of what the topic holds
          throw error;
        }
      }
    } finally {
      await reader.close().catch(() => undefined);
    }
    return liveOutputs(
      all.flatMap((msg) => {
        const seq = seqOf(msg);
        return seq === undefined ? [] : [{ seq, payload: msg.payload, publishTime: msg.publishTime }];
      }),
      wanted,
      beforeMs,
    );
  }

  /** A Supplier's sealed result from its output channel (the last one it posted), or none. */
  async #resultOf(topic: string, supplier: Address): Promise<ResultArg> {
    const reader = await this.options.bus.createReader(topic, { startMessageId: "earliest" });
    let result: ResultArg = NO_RESULT;
    try {
      for (;;) {
        const msg = await reader.readNext(1_000);
        if (msg.properties.type !== "result") continue;
        try {
          const r = JSON.parse(new TextDecoder().decode(msg.payload)) as {
            supplier: Address;
            seal: Bytes32;
            signature: Hex;
          };
          if (r.supplier?.toLowerCase() === supplier.toLowerCase())
            result = { seal: r.seal, signature: r.signature };
        } catch {
          this.counters.badMessages++;
        }
      }
    } catch {
      // the end of what the topic holds (a read timeout)
    } finally {
      await reader.close().catch(() => undefined);
    }
    return result;
  }
}
