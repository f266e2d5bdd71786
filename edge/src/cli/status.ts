// `surplus-edge status`: what a running runtime is doing, at a glance. The `run` daemon writes a
// snapshot to <dataDir>/status.json every few seconds (atomically: temporary file, then rename);
// `status` reads it, so it needs no key, no password and no connection to the market.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connectMarket } from "@surplus/contracts";
import type { Address, Allocation, Bytes32 } from "@surplus/core";
import type { Contract, Provider } from "ethers";

export const STATUS_FILE = "status.json";
/** Closed allocations already accounted for, with what this participant got back (survives restarts). */
export const SETTLEMENTS_FILE = "settlements.json";

/** An offer the runtime posted whose window has not ended. */
export interface OpenOffer {
  readonly start: number;
  readonly end: number;
  readonly capacityMips?: number;
  readonly inputsPerSecond?: number;
}

/** What `run` writes and `status` shows. Amounts are token base units, as decimal strings. */
export interface StatusSnapshot {
  readonly version: 1;
  readonly role: string;
  readonly address: string;
  readonly pid: number;
  readonly startedAt: string;
  readonly updatedAt: string;
  /** How often the daemon rewrites the snapshot: older than a few of these means it is not running. */
  readonly everySeconds: number;
  readonly offers: readonly OpenOffer[];
  /** Allocations this process has seen, by the role's phase. */
  readonly allocations: Readonly<Record<string, number>>;
  /** Allocations whose stream runs now (Supplier: running; Customer: streaming). */
  readonly running: number;
  /** Inputs processed (Supplier) or outputs delivered (Customer) since start, and the recent rate. */
  readonly inputs: { readonly total: number; readonly perSecond: number };
  readonly money: {
    /** Free balance in the market contract, or null when the chain did not answer. */
    readonly balance: string | null;
    /** Net gain over the allocations that paid it more than it locked (payment minus fees). */
    readonly earned: string;
    /** What it lost over the allocations that paid it back less than it locked (fines, forfeited deposits). */
    readonly fined: string;
    /** Closed allocations accounted for. */
    readonly closed: number;
  };
}

/** What a closed allocation gave this participant back, against what it had locked for it. */
export interface Settlement {
  readonly payout: string;
  readonly locked: string;
}

/** The chain facts the snapshot needs; EthersMoney reads them from the market contract. */
export interface MoneyReader {
  balanceOf(address: Address): Promise<bigint>;
  /** The payout and the lock of `address` in the closed allocation `id`, or undefined if not closed yet. */
  settlement(id: Bytes32, a: Allocation, role: string, address: Address): Promise<Settlement | undefined>;
}

/** What the writer reads from the running agent each time. */
export interface StatusSource {
  readonly role: string;
  readonly address: string;
  /** Phase of each allocation the agent holds. */
  allocations(): Iterable<{ readonly id: Bytes32; readonly allocation: Allocation; readonly phase: string }>;
  /** Inputs handled since start (a running count). */
  inputsTotal(): number;
}

export class StatusWriter {
  readonly #dir: string;
  readonly #source: StatusSource;
  readonly #money: MoneyReader;
  readonly #everySeconds: number;
  readonly #startedAt = new Date().toISOString();
  readonly #settlements: Record<string, Settlement>;
  #offers: OpenOffer[] = [];
  #last: { atMs: number; total: number } | undefined;
  #perSecond = 0;

  constructor(dataDir: string, source: StatusSource, money: MoneyReader, everySeconds: number) {
    this.#dir = dataDir;
    this.#source = source;
    this.#money = money;
    this.#everySeconds = everySeconds;
    mkdirSync(dataDir, { recursive: true });
    this.#settlements = readJson<Record<string, Settlement>>(join(dataDir, SETTLEMENTS_FILE)) ?? {};
    // Offers posted before a restart may still be open: the agent keeps only the latest in offer.json.
    const previous = readJson<StatusSnapshot>(join(dataDir, STATUS_FILE));
    if (previous?.version === 1 && previous.address === source.address) this.#offers = [...previous.offers];
  }

  /** Builds the snapshot and writes it; a chain that does not answer leaves the balance null. */
  async write(nowMs = Date.now()): Promise<StatusSnapshot> {
    const snapshot = await this.snapshot(nowMs);
    atomicWrite(join(this.#dir, STATUS_FILE), `${JSON.stringify(snapshot, null, 2)}\n`);
    return snapshot;
  }

  async snapshot(nowMs: number): Promise<StatusSnapshot> {
    const nowS = nowMs / 1000;
    const latest = readJson<OpenOffer & { nonce?: string }>(join(this.#dir, "offer.json"));
    if (latest && !this.#offers.some((o) => o.start === latest.start && o.end === latest.end)) {
      this.#offers.push({
        start: latest.start,
        end: latest.end,
        ...(latest.capacityMips !== undefined ? { capacityMips: latest.capacityMips } : {}),
        ...(latest.inputsPerSecond !== undefined ? { inputsPerSecond: latest.inputsPerSecond } : {}),
      });
    }
    this.#offers = this.#offers.filter((o) => o.end > nowS);

    const allocations: Record<string, number> = {};
    const address = this.#source.address as Address;
    let settledNow = false;
    for (const d of this.#source.allocations()) {
      allocations[d.phase] = (allocations[d.phase] ?? 0) + 1;
      if (d.phase !== "closed" || this.#settlements[d.id]) continue;
      const s = await this.#money
        .settlement(d.id, d.allocation, this.#source.role, address)
        .catch(() => undefined);
      if (s) {
        this.#settlements[d.id] = s;
        settledNow = true;
      }
    }
    if (settledNow) atomicWrite(join(this.#dir, SETTLEMENTS_FILE), JSON.stringify(this.#settlements));

    const total = this.#source.inputsTotal();
    if (this.#last && nowMs > this.#last.atMs)
      this.#perSecond = Math.round(((total - this.#last.total) * 1000) / (nowMs - this.#last.atMs));
    this.#last = { atMs: nowMs, total };

    let earned = 0n;
    let fined = 0n;
    for (const s of Object.values(this.#settlements)) {
      const net = BigInt(s.payout) - BigInt(s.locked);
      if (net > 0n) earned += net;
      else fined -= net;
    }
    const balance = await this.#money.balanceOf(address).then(
      (b) => b.toString(),
      () => null,
    );
    const allocs = Object.entries(allocations);
    return {
      version: 1,
      role: this.#source.role,
      address: this.#source.address,
      pid: process.pid,
      startedAt: this.#startedAt,
      updatedAt: new Date(nowMs).toISOString(),
      everySeconds: this.#everySeconds,
      offers: this.#offers,
      allocations,
      running: allocs.filter(([p]) => p === "running" || p === "streaming").reduce((n, [, c]) => n + c, 0),
      inputs: { total, perSecond: this.#perSecond },
      money: {
        balance,
        earned: earned.toString(),
        fined: fined.toString(),
        closed: Object.keys(this.#settlements).length,
      },
    };
  }
}

/** The market contract's view of a participant's money: its free balance and its payouts on close. */
export class EthersMoney implements MoneyReader {
  readonly #market: Contract;
  #fees: Promise<{ penaltyRate: bigint; allocatorFee: bigint; mediatorFee: bigint }> | undefined;

  constructor(marketAddress: string, provider: Provider) {
    this.#market = connectMarket(marketAddress, provider);
  }

  async balanceOf(address: Address): Promise<bigint> {
    return (await this.#market.getFunction("balanceOf")(address)) as bigint;
  }

  async settlement(
    id: Bytes32,
    a: Allocation,
    role: string,
    address: Address,
  ): Promise<Settlement | undefined> {
    const logs = await this.#market.queryFilter(this.#market.filters.AllocationClosed!(id));
    const args = (
      logs[0] as unknown as
        | { args: { supplierPayouts: bigint[]; customerPayout: bigint; mediatorPayout: bigint } }
        | undefined
    )?.args;
    if (!args) return undefined;
    this.#fees ??= Promise.all(
      ["penaltyRate", "allocatorFee", "mediatorFee"].map(
        async (f) => (await this.#market.getFunction(f)()) as bigint,
      ),
    ).then(([penaltyRate, allocatorFee, mediatorFee]) => ({
      penaltyRate: penaltyRate!,
      allocatorFee: allocatorFee!,
      mediatorFee: mediatorFee!,
    }));
    const f = await this.#fees;
    // The contract's amounts (SurplusMarket._amounts): π_s = I_c·π_x, P = λΔ·π_s, D = ρ·π_s.
    const inputPrice = BigInt(a.miPerInput) * a.pricePerMi;
    const payment = BigInt(a.inputsPerSecond) * BigInt(a.end - a.start) * inputPrice;
    const deposit = f.penaltyRate * inputPrice;
    if (role === "supplier") {
      const i = a.suppliers.findIndex((s) => s.toLowerCase() === address.toLowerCase());
      // A Supplier locks D + F when it signs (F goes to the Allocator once the allocation runs).
      return { payout: String(args.supplierPayouts[i] ?? 0n), locked: String(deposit + f.allocatorFee) };
    }
    if (role === "customer") {
      const locked = BigInt(a.suppliers.length) * payment + deposit + f.mediatorFee + f.allocatorFee;
      return { payout: String(args.customerPayout), locked: String(locked) };
    }
    // The Mediator locks nothing.
    return { payout: String(args.mediatorPayout), locked: "0" };
  }
}

/** What `surplus-edge status` found in a data directory. */
export type StatusReading =
  | { readonly state: "running"; readonly snapshot: StatusSnapshot; readonly ageSeconds: number }
  | {
      readonly state: "stopped";
      readonly why: string;
      readonly snapshot?: StatusSnapshot;
      readonly ageSeconds?: number;
    };

/**
 * Whether a runtime runs on `dataDir`: a snapshot exists, its process is alive and it was written
 * within three of its intervals (a process that hangs stops refreshing it).
 */
export function readStatus(
  dataDir: string,
  nowMs = Date.now(),
  alive: (pid: number) => boolean = pidAlive,
): StatusReading {
  const file = join(dataDir, STATUS_FILE);
  if (!existsSync(file))
    return { state: "stopped", why: `no surplus-edge runtime has run with data directory ${dataDir}` };
  const snapshot = readJson<StatusSnapshot>(file);
  if (snapshot?.version !== 1) return { state: "stopped", why: `${file} is not a status snapshot` };
  const ageSeconds = Math.max(0, Math.round((nowMs - Date.parse(snapshot.updatedAt)) / 1000));
  if (!alive(snapshot.pid))
    return {
      state: "stopped",
      why: `no surplus-edge runtime runs with data directory ${dataDir} (process ${snapshot.pid} is gone)`,
      snapshot,
      ageSeconds,
    };
  if (ageSeconds > 3 * snapshot.everySeconds + 5)
    return {
      state: "stopped",
      why: `the runtime with data directory ${dataDir} (process ${snapshot.pid}) has not reported for ${ageSeconds} s`,
      snapshot,
      ageSeconds,
    };
  return { state: "running", snapshot, ageSeconds };
}

/** The reading as a few lines for a person. */
export function formatStatus(r: StatusReading, nowMs = Date.now()): string {
  const lines: string[] = [];
  const s = r.snapshot;
  if (r.state === "stopped") {
    lines.push(`not running: ${r.why}`);
    if (s) lines.push(`last status, ${r.ageSeconds} s ago:`);
  }
  if (!s) return lines.join("\n");
  const up = Math.round((nowMs - Date.parse(s.startedAt)) / 1000);
  if (r.state === "running")
    lines.push(
      `running: ${s.role} ${s.address} (pid ${s.pid}, up ${duration(up)}, status ${r.ageSeconds} s old)`,
    );
  else lines.push(`${s.role} ${s.address} (pid ${s.pid})`);
  const nowS = nowMs / 1000;
  const offers = s.offers.map((o) => {
    const what =
      o.capacityMips !== undefined ? `${o.capacityMips} MIPS` : `${o.inputsPerSecond ?? "?"} inputs/s`;
    const when = o.start > nowS ? `from ${clock(o.start)}` : "now";
    return `${what} ${when} until ${clock(o.end)} UTC`;
  });
  lines.push(`offers open:         ${s.offers.length}${offers.length ? ` (${offers.join("; ")})` : ""}`);
  const phases = Object.entries(s.allocations)
    .map(([p, n]) => `${n} ${p}`)
    .join(", ");
  lines.push(`allocations running: ${s.running}${phases ? ` (seen: ${phases})` : ""}`);
  lines.push(
    `inputs per second:   ${s.inputs.perSecond} (${s.inputs.total} ${s.role === "customer" ? "delivered" : "processed"} since start)`,
  );
  lines.push(`earned so far:       ${s.money.earned} (over ${s.money.closed} closed allocations)`);
  lines.push(`fined so far:        ${s.money.fined}`);
  lines.push(`market balance:      ${s.money.balance ?? "unknown (the chain did not answer)"}`);
  return lines.join("\n");
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user (the service's own user under systemd).
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function duration(s: number): string {
  if (s < 120) return `${s} s`;
  if (s < 7200) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

function clock(unixS: number): string {
  return new Date(unixS * 1000).toISOString().slice(11, 19);
}

function readJson<T>(file: string): T | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as T;
  } catch {
    return undefined;
  }
}

function atomicWrite(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, text);
  renameSync(tmp, file);
}

// ---------------------------------------------------------------- offer statuses (issue 17)

/** One of this participant's offers as the Allocator last reported it on its status channel. */
export interface OfferStatusLine {
  readonly offerId: string;
  readonly kind: string;
  readonly state: string;
  readonly reason?: string;
  readonly allocations: readonly string[];
  readonly updatedAtMs: number;
}

/**
 * Reads the participant's own status channel (`status-<address>`, which only its token may
 * consume) with the config's broker URL and token; the address is the keystore's.
 */
export async function readOfferStatuses(config: {
  keystore: string;
  pulsar: { url: string; token?: string | undefined; tenant: string; namespace: string };
}): Promise<OfferStatusLine[]> {
  const { WebSocketMessageBus, readStatuses } = await import("@surplus/adapters/pulsar");
  const address = `0x${String((JSON.parse(readFileSync(config.keystore, "utf8")) as { address: string }).address).replace(/^0x/, "")}`;
  const bus = new WebSocketMessageBus({
    url: config.pulsar.url,
    ...(config.pulsar.token ? { token: config.pulsar.token } : {}),
  });
  try {
    const layout = {
      tenant: config.pulsar.tenant,
      publicNamespace: config.pulsar.namespace,
      allocationPrefix: "alloc-",
    };
    return (await readStatuses(bus, address, { layout })).sort((a, b) => a.updatedAtMs - b.updatedAtMs);
  } finally {
    await bus.close();
  }
}

/** The offers' statuses, one line each (newest last), with why an offer is not (fully) matched. */
export function formatOfferStatuses(offers: readonly OfferStatusLine[], nowMs = Date.now()): string {
  if (offers.length === 0) return "offers: the Allocator has reported none yet";
  const lines = ["offers (as the Allocator reported them):"];
  for (const o of offers) {
    const ago = duration(Math.max(0, Math.round((nowMs - o.updatedAtMs) / 1000)));
    const into = o.allocations.length
      ? ` into ${o.allocations.map((a) => `${a.slice(0, 10)}…`).join(", ")}`
      : "";
    lines.push(`  ${o.kind} offer ${o.offerId.slice(0, 10)}…  ${o.state}${into}  (${ago} ago)`);
    if (o.reason) lines.push(`      why: ${o.reason}`);
  }
  return lines.join("\n");
}

/**
 * The short form plain `status` prints: offers per state, and why the newest offer not (fully)
 * matched waits — the Allocator's own words.
 */
export function formatOfferStatusesShort(offers: readonly OfferStatusLine[]): string {
  if (offers.length === 0) return "offer statuses:      none reported by the Allocator yet";
  const counts = new Map<string, number>();
  for (const o of offers) counts.set(o.state, (counts.get(o.state) ?? 0) + 1);
  const line = `offer statuses:      ${[...counts].map(([state, n]) => `${n} ${state}`).join(", ")}`;
  const waiting = offers.findLast((o) => o.reason);
  return waiting ? `${line}\n  latest why:         ${waiting.reason}` : line;
}
