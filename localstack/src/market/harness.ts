// A local market on running services (a Pulsar broker, DynamoDB (moto), a chain node): deploys a
// market contract of its own, gives it a Pulsar tenant and DynamoDB tables of its own, funds the
// participants, runs the Allocator and the verifier-bridge use cases (the Lambda handlers' code) on
// a local scheduler (offer round every second), and runs each Customer, Supplier and Mediator as an edge agent
// (edge/src/agents) — the same code `surplus-edge run` runs. Participants talk only through Pulsar
// and the chain. `./surplus market`, the end-to-end tests and `bench:e2e` are scenarios over it.
//
// Its concerns live beside it: scenario.ts (what it runs), provisioning.ts (contract, tenant,
// tables, grants), participants.ts (keys, funds, tokens, edge agents), operator.ts (the scheduled
// use cases), processes.ts (`surplus-edge run` children), reporting.ts (events, gas, balances).
import type { ChildProcess } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type {
  DynamoBridgeRegistry,
  DynamoOfferStatuses,
  DynamoReputationLedger,
} from "@surplus/adapters/dynamodb";
import {
  type ChannelLayout,
  type MarketChannels,
  mintParticipantToken,
  ParticipantKind,
} from "@surplus/adapters/pulsar";
import type { DeployedMarket } from "@surplus/contracts";
import type { Address, Bytes32 } from "@surplus/core";
import type { AgentLog, CustomerAgent, MediatorAgent, SupplierAgent } from "@surplus/edge";
import { JsonRpcProvider, type Wallet } from "ethers";
import { type Operator, Schedule, startOperator } from "./operator.ts";
import {
  FUNDS,
  fund,
  newFunder,
  newParticipant,
  newWallets,
  type Participant,
  startAgents,
  supplierSection,
} from "./participants.ts";
import { KEYSTORE_PASSWORD, killChild, localKeystore, spawnEdge, stopChild } from "./processes.ts";
import { deployContract, grantParticipant, type Provisioned, provisionServices } from "./provisioning.ts";
import {
  type BalanceChange,
  Balances,
  closeReasonOf,
  EventLog,
  type GasEntry,
  type MarketLogEntry,
} from "./reporting.ts";
import {
  type CustomerSpec,
  type MarketScenario,
  ROOT,
  SERVICES,
  type Stack,
  type SupplierSpec,
  until,
} from "./scenario.ts";

export { InjectedCrash } from "./operator.ts";
export type { Participant } from "./participants.ts";
export type { BalanceChange, GasEntry, MarketLogEntry } from "./reporting.ts";
export {
  type CustomerSpec,
  LOCAL_PARAMETERS,
  type MarketScenario,
  SERVICES,
  type ServiceName,
  type Stack,
  type SupplierSpec,
  serviceWasm,
} from "./scenario.ts";

export class LocalMarket {
  readonly participants: Participant[] = [];
  readonly suppliers: Array<{ spec: SupplierSpec; p: Participant; agent?: SupplierAgent }> = [];
  readonly customers: Array<{ spec: CustomerSpec; p: Participant; agent: CustomerAgent }> = [];
  mediator!: { p: Participant; agent: MediatorAgent };
  allocator!: Participant;
  treasury!: Address;
  deployed!: DeployedMarket;
  layout!: ChannelLayout;
  channels!: MarketChannels;
  prefix!: string;
  bridgeRegistry!: DynamoBridgeRegistry;
  /** Offer statuses and reputations (issue 17), as the Allocator and the bridge record them. */
  offerStatuses!: DynamoOfferStatuses;
  reputations!: DynamoReputationLedger;
  /** When each allocation was opened on-chain by the Allocator, with every signature. */
  readonly opened = new Map<Bytes32, number>();
  readonly #log = new EventLog();
  readonly #balances = new Balances(() => this.deployed);
  readonly #schedule = new Schedule((who, event, fields) => this.record(who, event, fields));
  #operator?: Operator;
  #provisioned!: Provisioned;
  #funder!: Wallet;
  readonly #provider: JsonRpcProvider;
  readonly #stack: Stack;
  readonly #scenario: MarketScenario;
  readonly #dataDir: string;

  private constructor(stack: Stack, scenario: MarketScenario, dataDir: string) {
    this.#stack = stack;
    this.#scenario = scenario;
    this.#dataDir = dataDir;
    // No response cache: a nonce read right after a mined transaction must be fresh.
    this.#provider = new JsonRpcProvider(stack.chainRpcUrl, undefined, {
      pollingInterval: 200,
      cacheTimeout: -1,
    });
  }

  /** Sets the market up and starts every participant; `onEvent` sees each protocol event. */
  static async start(
    stack: Stack,
    scenario: MarketScenario,
    options: { onEvent?: (e: MarketLogEntry) => void; dataDir?: string } = {},
  ): Promise<LocalMarket> {
    const id = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
    const m = new LocalMarket(stack, scenario, options.dataDir ?? join(ROOT, ".data/market", id));
    if (options.onEvent) m.onEvent(options.onEvent);
    m.prefix = `market-${id}-`;
    try {
      await m.#setUp(id);
    } catch (error) {
      // What set-up started (agents, operator loops, child processes) stops before the caller
      // stops the services they use.
      await m.stop().catch(() => undefined);
      throw error;
    }
    return m;
  }

  /** Every protocol event so far, in order. */
  get events(): MarketLogEntry[] {
    return this.#log.events;
  }

  /** The gas of every transaction a party reported. */
  get gas(): GasEntry[] {
    return this.#log.gas;
  }

  /** Each party's market balance when it joined. */
  get startBalances(): Map<string, bigint> {
    return this.#balances.start;
  }

  onEvent(listener: (e: MarketLogEntry) => void): void {
    this.#log.onEvent(listener);
  }

  record(who: string, event: string, fields: Record<string, unknown> = {}): void {
    this.#log.record(who, event, fields);
  }

  logFor(who: string): AgentLog {
    return this.#log.logFor(who);
  }

  get dataDir(): string {
    return this.#dataDir;
  }

  /** Where the Customers publish their services (`<hash>.wasm`) for the Suppliers and the Mediator. */
  get servicesDir(): string {
    return join(this.#dataDir, "services");
  }

  async #setUp(id: string): Promise<void> {
    // Keys: a treasury, the Allocator, the Mediator and every scenario party.
    const n = 3 + this.#scenario.suppliers.length + this.#scenario.customers.length;
    this.#funder = await newFunder(this.#provider, n);
    const [treasury, allocatorKey, mediatorKey, ...rest] = await newWallets(this.#funder, n);
    this.treasury = treasury!.address as Address;

    // Provisioning: the contract, the Pulsar tenant and channels, the tables.
    this.deployed = await deployContract(this.#funder, this.treasury, this.#scenario.parameters);
    this.record("chain", "market.deployed", {
      market: this.deployed.marketAddress,
      token: this.deployed.tokenAddress,
    });
    this.#provisioned = await provisionServices(this.#stack, id, this.prefix);
    this.layout = this.#provisioned.layout;
    this.channels = this.#provisioned.channels;

    // Participants: tokens and connections, funds and grants.
    const participant = async (name: string, kind: ParticipantKind, wallet: Wallet) => {
      const p = await newParticipant(this.#stack, name, kind, wallet);
      this.participants.push(p);
      return p;
    };
    this.allocator = await participant("allocator", ParticipantKind.Allocator, allocatorKey!);
    const mediator = await participant("mediator", ParticipantKind.Mediator, mediatorKey!);
    const suppliers = await Promise.all(
      this.#scenario.suppliers.map((s, i) => participant(s.name, ParticipantKind.Supplier, rest[i]!)),
    );
    const customers = await Promise.all(
      this.#scenario.customers.map((c, i) =>
        participant(c.name, ParticipantKind.Customer, rest[this.#scenario.suppliers.length + i]!),
      ),
    );
    await Promise.all(this.participants.map((p) => this.#enrol(p)));
    for (const p of [...this.participants, { name: "treasury", address: this.treasury }])
      await this.#balances.remember(p.name, p.address);
    this.record("market", "participants.funded", {
      participants: this.participants.length,
      each: FUNDS.toString(),
    });

    // The operator's scheduled use cases.
    this.#operator = await startOperator({
      stack: this.#stack,
      scenario: this.#scenario,
      provider: this.#provider,
      deployed: this.deployed,
      provisioned: this.#provisioned,
      prefix: this.prefix,
      allocator: this.allocator,
      schedule: this.#schedule,
      record: (who, event, fields) => this.record(who, event, fields),
      opened: this.opened,
      requirementOf: (account: Address) =>
        this.#scenario.customers.find((c) => this.customers.find((x) => x.spec === c)?.p.address === account)
          ?.requires,
    });
    this.bridgeRegistry = this.#operator.bridgeRegistry;
    this.offerStatuses = this.#operator.offerStatuses;
    this.reputations = this.#operator.reputations;
    // The Allocator is up before the participants come, as a deployed one would be: its first
    // round opens the offers channel's Reader (which waits for a new subscription's first
    // messages) on an empty channel, not while the first offers trickle in.
    const operator = this.#operator;
    await until("the Allocator's first offer round", () => operator.offerRounds() > 0, 60_000);

    // The participants' agents.
    await startAgents(this, this.#scenario, { mediator, suppliers, customers });
  }

  /** Funds a participant's market balance (mint, approve, deposit) and admits it on Pulsar. */
  async #enrol(p: { address: Address; wallet: Wallet; kind: ParticipantKind }): Promise<void> {
    const deposit = this.#scenario.customers.find((c) => "name" in p && c.name === p.name)?.deposit ?? FUNDS;
    await fund(this.deployed, p, deposit);
    await grantParticipant(this.#provisioned, p, this.allocator?.address);
  }

  /**
   * A funded Supplier and Customer that are not running, with keystores and `surplus-edge` configs
   * in `dir` (Pulsar tokens inside; local use only), for a user to attach from another terminal.
   */
  async attachConfigs(dir: string): Promise<{ supplier: string; customer: string }> {
    const out: Record<string, string> = {};
    for (const role of ["supplier", "customer"] as const) {
      const [wallet] = (await newWallets(this.#funder, 1)) as [Wallet];
      const kind = role === "supplier" ? ParticipantKind.Supplier : ParticipantKind.Customer;
      await this.#enrol({ address: wallet.address as Address, wallet, kind });
      const roleDir = join(dir, role);
      mkdirSync(roleDir, { recursive: true });
      writeFileSync(join(roleDir, "key.json"), localKeystore(wallet), {
        mode: 0o600,
      });
      const token = await mintParticipantToken(
        new Uint8Array(Buffer.from(this.#stack.pulsar.tokenSecret, "base64")),
        wallet.address,
      );
      const mediators = [this.mediator.p.address];
      const section =
        role === "supplier"
          ? { supplier: { capacityMips: 1100, ramMb: 512, minPricePerMi: (10n ** 9n).toString(), mediators } }
          : {
              customer: {
                service: join(ROOT, "edge/build/people-counter.wasm"),
                miPerInput: SERVICES["people-counter"].miPerInput,
                ramMb: 128,
                inputsPerSecond: 20,
                seconds: 30,
                maxPricePerMi: (3n * 10n ** 9n).toString(),
                replicas: 1,
                mediators,
                source: { kind: "frames" },
              },
            };
      const config = this.configFor(role, roleDir, section);
      const file = join(roleDir, "config.json");
      writeFileSync(file, JSON.stringify({ ...config, pulsar: { ...config.pulsar, token } }, null, 2), {
        mode: 0o600,
      });
      out[role] = file;
    }
    return { supplier: out.supplier!, customer: out.customer! };
  }

  /** Keystore password of the local market's generated keystores (local development only). */
  static readonly KEYSTORE_PASSWORD = KEYSTORE_PASSWORD;

  /** Kills a participant's `surplus-edge` process at once (SIGKILL: no clean-up at all). */
  async kill(p: Participant): Promise<void> {
    await killChild(p.child);
  }

  /** Starts the `surplus-edge` process of a participant again, on the same data folder and key. */
  restart(p: Participant): ChildProcess {
    const i = this.suppliers.findIndex((s) => s.p === p);
    if (i < 0) throw new Error(`${p.name} is not a Supplier run as a process`);
    return this.startProcess(
      p,
      "supplier",
      supplierSection(this.suppliers[i]!.spec, i, this.mediator.p.address),
    );
  }

  /** A participant outside the scenario (funded, admitted on Pulsar), e.g. to misbehave on the channels. */
  async addParticipant(name: string, kind: ParticipantKind): Promise<Participant> {
    const [wallet] = (await newWallets(this.#funder, 1)) as [Wallet];
    const p = await newParticipant(this.#stack, name, kind, wallet);
    await this.#enrol(p);
    this.participants.push(p);
    await this.#balances.remember(name, p.address);
    return p;
  }

  /** Writes a keystore and a config for `p`, and runs `surplus-edge run` for it as a child process. */
  startProcess(
    p: Participant,
    role: "supplier" | "customer" | "mediator",
    section: Record<string, unknown>,
  ): ChildProcess {
    const dir = join(this.#dataDir, p.address);
    return spawnEdge(p, dir, this.configFor(role, dir, section), (who, event, fields) =>
      this.record(who, event, fields),
    );
  }

  /** A `surplus-edge` config for participant `p` of this market. */
  configFor(role: string, dir: string, section: Record<string, unknown>) {
    return {
      role,
      keystore: join(dir, "key.json"),
      dataDir: dir,
      pulsar: {
        url: this.#stack.pulsar.webUrl,
        tenant: this.layout.tenant,
        namespace: this.layout.publicNamespace,
      },
      chain: { rpcUrl: this.#stack.chainRpcUrl, market: this.deployed.marketAddress },
      allocators: [this.allocator.address],
      services: { dir: this.servicesDir },
      ...section,
    };
  }

  /** Why an allocation closed, as the contract's CloseReason (undefined while it is open). */
  closeReasonOf(id: Bytes32): Promise<number | undefined> {
    return closeReasonOf(this.deployed, id);
  }

  balanceOf(address: string): Promise<bigint> {
    return this.#balances.of(address);
  }

  /** Every participant's and the treasury's change of market balance since the start. */
  balanceChanges(): Promise<BalanceChange[]> {
    return this.#balances.changes([...this.participants, { name: "treasury", address: this.treasury }]);
  }

  /** Waits until every Customer's offer is served and each of its allocations closed or lapsed. */
  async settled(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.customers.every((c) => c.agent.finished())) return true;
      await new Promise((r) => setTimeout(r, 500));
    }
    return false;
  }

  /** Stops every agent, child process and scheduled loop (Ctrl-C ends here too). */
  async stop(): Promise<void> {
    // What happened, for a look afterwards (one protocol event per line).
    this.#log.write(this.#dataDir);
    const agents = [
      this.mediator?.agent,
      ...this.suppliers.map((s) => s.agent),
      ...this.customers.map((c) => c.agent),
    ].filter((a) => a !== undefined);
    await Promise.allSettled(agents.map((a) => a.stop()));
    const loops = this.#schedule.stop();
    for (const p of this.participants) await stopChild(p.child);
    await loops;
    await Promise.allSettled(this.participants.map((p) => p.bus.close()));
    await this.#operator?.close().catch(() => undefined);
    this.#provider.destroy();
  }
}
