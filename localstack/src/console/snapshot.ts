// What the market console shows (issue 17), read from a running local market: the registries
// (offer statuses, the bridge's mirror of each allocation, reputations), the chain (balances,
// close payouts) and the run's own log (gas, stage times, stream counters). Read-only.
import type { Address, Bytes32, OfferStatus, Reputation } from "@surplus/core";
import type { LocalMarket } from "../market/harness.ts";

const CLOSE_REASONS = ["settled", "mediated", "mediator timeout", "reveal timeout", "signing failed"];

export interface ConsoleSnapshot {
  readonly at: number;
  readonly phase: "starting" | "running";
  readonly market?: string;
  readonly participants: Array<{
    name: string;
    kind: string;
    address: Address;
    balance: string;
    change: string;
    reputation?: Reputation;
  }>;
  readonly balanceCheck?: { sum: string; ok: boolean };
  readonly offers: Array<OfferStatus & { name: string }>;
  readonly allocations: Array<{
    id: Bytes32;
    customer: string;
    suppliers: string[];
    mediator: string;
    pricePerMi: string;
    testCount: number;
    state?: string;
    timeline: Array<{ event: string; block: number; at: number; args: Record<string, unknown> }>;
    verification?: string;
    closeReason?: string;
    payouts?: Record<string, string>;
    gas: Array<{ call: string; by: string; gas: string }>;
  }>;
  /** Seconds between stages, per allocation (offer → allocated → accepted → running → closed). */
  readonly latencies: Array<{ allocation: Bytes32; stage: string; seconds: number }>;
  /** Inputs sent per second per allocation, sampled every second while the page is served. */
  readonly throughput: Array<{ at: number; allocation: Bytes32; perSecond: number }>;
}

const bits = (mask: unknown, n: number) =>
  Array.from({ length: n }, (_, i) => ((Number(mask ?? 0) >> i) & 1) === 1);
const parse = (args: unknown): Record<string, unknown> =>
  typeof args === "string"
    ? (JSON.parse(args) as Record<string, unknown>)
    : ((args ?? {}) as Record<string, unknown>);

/** Samples each allocation's stream counter every second, for the throughput plot. */
export class ThroughputSampler {
  readonly series: Array<{ at: number; allocation: Bytes32; perSecond: number }> = [];
  readonly #last = new Map<Bytes32, { at: number; sent: number }>();
  #timer: NodeJS.Timeout | undefined;

  start(market: () => LocalMarket | undefined): void {
    this.#timer = setInterval(() => {
      const m = market();
      if (!m) return;
      const now = Date.now();
      for (const c of m.customers)
        for (const d of c.agent.allocations.values()) {
          const sent = Number(d.state.nextSeq ?? 0);
          const last = this.#last.get(d.id as Bytes32);
          this.#last.set(d.id as Bytes32, { at: now, sent });
          if (last && sent > last.sent)
            this.series.push({
              at: now,
              allocation: d.id as Bytes32,
              perSecond: ((sent - last.sent) * 1000) / (now - last.at),
            });
        }
      if (this.series.length > 5_000) this.series.splice(0, this.series.length - 5_000);
    }, 1_000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}

export async function snapshot(
  m: LocalMarket | undefined,
  sampler?: ThroughputSampler,
): Promise<ConsoleSnapshot> {
  const at = Date.now();
  if (!m?.offerStatuses)
    return {
      at,
      phase: "starting",
      participants: [],
      offers: [],
      allocations: [],
      latencies: [],
      throughput: [],
    };
  const nameOf = (a: string) =>
    m.participants.find((p) => p.address.toLowerCase() === a.toLowerCase())?.name ??
    (a.toLowerCase() === m.treasury?.toLowerCase() ? "treasury" : a);
  const [reputations, statuses, changes] = await Promise.all([
    m.reputations.reputations(),
    m.offerStatuses.statuses(),
    m.balanceChanges(),
  ]);
  let sum = 0n;
  const participants = changes.map((b) => {
    sum += b.change;
    const p = m.participants.find((x) => x.name === b.name);
    const address = (p?.address ?? m.treasury) as Address;
    const reputation = reputations.get(address.toLowerCase() as Address);
    return {
      name: b.name,
      kind: p?.kind ?? "treasury",
      address,
      balance: b.end.toString(),
      change: b.change.toString(),
      ...(reputation ? { reputation } : {}),
    };
  });

  const allocations: ConsoleSnapshot["allocations"] = [];
  const latencies: ConsoleSnapshot["latencies"] = [];
  for (const c of m.customers)
    for (const d of c.agent.allocations.values()) {
      const a = d.allocation;
      const id = d.id as Bytes32;
      const mirrored = await m.bridgeRegistry.chainStateOf(id);
      const history = (mirrored?.history ?? []).map((h) => ({
        event: String(h["event"]),
        block: Number(h["blockNumber"]),
        at: Number(h["timestamp"]) * 1000,
        args: parse(h["args"]),
      }));
      const find = (name: string) => history.find((h) => h.event === name)?.args;
      const n = a.suppliers.length;
      const settled = find("AllocationSettled");
      const mediated = find("AllocationMediated");
      const closed = find("AllocationClosed");
      const verification = settled
        ? a.suppliers
            .map((s, i) => {
              const matched = bits(settled["matched"], n)[i];
              const faulty = mediated && bits(mediated["faultySuppliers"], n)[i];
              return `${nameOf(s)}: ${faulty ? "faulty (mediation)" : matched ? "seal matched γ_c" : "seal did not match"}`;
            })
            .join("; ")
        : undefined;
      const payouts: Record<string, string> = {};
      if (closed) {
        const supplierPayouts = (closed["supplierPayouts"] as unknown[] | undefined) ?? [];
        a.suppliers.forEach((s, i) => {
          payouts[nameOf(s)] = String(supplierPayouts[i] ?? "0");
        });
        payouts[nameOf(a.customer)] = String(closed["customerPayout"] ?? "0");
        payouts[nameOf(a.mediator)] = String(closed["mediatorPayout"] ?? "0");
        payouts["treasury"] = String(closed["treasuryPayout"] ?? "0");
      }
      allocations.push({
        id,
        customer: nameOf(a.customer),
        suppliers: a.suppliers.map(nameOf),
        mediator: nameOf(a.mediator),
        pricePerMi: a.pricePerMi.toString(),
        testCount: a.testCount,
        ...(mirrored?.state ? { state: mirrored.state } : {}),
        timeline: history,
        ...(verification ? { verification } : {}),
        ...(closed ? { closeReason: CLOSE_REASONS[Number(closed["reason"])] ?? "?", payouts } : {}),
        gas: m.gas
          .filter((g) => g.allocation === id)
          .map((g) => ({ call: g.call, by: g.by, gas: g.gas.toString() })),
      });
      // Stage times from the run's log and the Allocator's open, as the terminal summary has them.
      const first = (event: string) =>
        m.events.find((e) => e.event === event && e.fields["allocation"] === id && e.who === c.p.name)?.at;
      const stages: Array<[string, number | undefined]> = [
        ["allocated", first("allocation.delivered")],
        ["opened", m.opened.get(id)],
        ["streaming", first("stream.started")],
        ["stream ended", first("stream.ended")],
        ["closed", first("allocation.closed")],
      ];
      for (let i = 1; i < stages.length; i++) {
        const [stage, t] = stages[i]!;
        const before = stages[i - 1]![1];
        if (t !== undefined && before !== undefined)
          latencies.push({
            allocation: id,
            stage: `${stages[i - 1]![0]} → ${stage}`,
            seconds: (t - before) / 1000,
          });
      }
    }

  return {
    at,
    phase: "running",
    market: m.deployed.marketAddress,
    participants,
    balanceCheck: { sum: sum.toString(), ok: sum === 0n },
    offers: statuses.map((s) => ({ ...s, name: nameOf(s.account) })),
    allocations,
    latencies,
    throughput: sampler?.series ?? [],
  };
}
