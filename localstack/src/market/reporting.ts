// What a local market reports: its protocol events (as the agents and the scheduled use cases log
// them), the gas of each transaction, and every party's change of market balance.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DeployedMarket } from "@surplus/contracts";
import { type Bytes32, toWire } from "@surplus/core";
import type { AgentLog } from "@surplus/edge";
import type { Contract } from "ethers";

/**
 * One line of the market's log: a protocol event as an agent or a scheduled use case logged it
 * (core's MarketEvent is a chain event).
 */
export interface MarketLogEntry {
  readonly at: number;
  readonly who: string;
  readonly event: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface GasEntry {
  readonly allocation: string;
  readonly call: string;
  readonly by: string;
  readonly gas: bigint;
}

/** The market's event log: every event in order, the gas of each `tx` event, live listeners. */
export class EventLog {
  readonly events: MarketLogEntry[] = [];
  readonly gas: GasEntry[] = [];
  readonly #listeners: Array<(e: MarketLogEntry) => void> = [];

  onEvent(listener: (e: MarketLogEntry) => void): void {
    this.#listeners.push(listener);
  }

  record(who: string, event: string, fields: Record<string, unknown> = {}): void {
    const e = { at: Date.now(), who, event, fields };
    this.events.push(e);
    if (event === "tx")
      this.gas.push({
        allocation: String(fields.allocation ?? "-"),
        call: String(fields.call),
        by: who,
        gas: BigInt(String(fields.gas)),
      });
    for (const l of this.#listeners) l(e);
  }

  logFor(who: string): AgentLog {
    return (event, fields) => this.record(who, event, fields);
  }

  /** Writes `events.jsonl` into `dir` (one protocol event per line), for a look afterwards. */
  write(dir: string): void {
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, "events.jsonl"),
      this.events
        .map((e) => toWire({ t: new Date(e.at).toISOString(), who: e.who, event: e.event, ...e.fields }))
        .join("\n"),
    );
  }
}

export interface BalanceChange {
  readonly name: string;
  readonly start: bigint;
  readonly end: bigint;
  readonly change: bigint;
}

/** Market balances read from the contract, and their change since a recorded start. */
export class Balances {
  readonly start = new Map<string, bigint>();
  readonly #deployed: () => DeployedMarket;

  constructor(deployed: () => DeployedMarket) {
    this.#deployed = deployed;
  }

  async of(address: string): Promise<bigint> {
    return (await this.#deployed().market.getFunction("balanceOf")(address)) as bigint;
  }

  /** Records a party's balance now as its start. */
  async remember(name: string, address: string): Promise<void> {
    this.start.set(name, await this.of(address));
  }

  async changes(parties: ReadonlyArray<{ name: string; address: string }>): Promise<BalanceChange[]> {
    const out = [];
    for (const p of parties) {
      const end = await this.of(p.address);
      const start = this.start.get(p.name) ?? 0n;
      out.push({ name: p.name, start, end, change: end - start });
    }
    return out;
  }
}

/** Why an allocation closed, as the contract's CloseReason (undefined while it is open). */
export async function closeReasonOf(deployed: DeployedMarket, id: Bytes32): Promise<number | undefined> {
  const market = deployed.market as Contract;
  const logs = await market.queryFilter(market.filters.AllocationClosed!(id));
  const reason = (logs[0] as unknown as { args?: { reason: bigint } } | undefined)?.args?.reason;
  return reason === undefined ? undefined : Number(reason);
}
