// A local market on running services (a Pulsar broker, DynamoDB (moto), a chain node): deploys a
// market contract of its own, gives it a Pulsar tenant and DynamoDB tables of its own, funds the
// participants, runs the Allocator and the verifier-bridge use cases (the Lambda handlers' code) on
// a local scheduler (offer round every second), and runs each Customer, Supplier and Mediator as an edge agent
// (edge/src/agents) — the same code `surplus-edge run` runs. Participants talk only through Pulsar
// and the chain. `./surplus market`, the end-to-end tests and `bench:e2e` are scenarios over it.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import {
  ContractFreeBalances,
  MarketAllocationOpener,
  MarketEventReader,
  readMarketFees,
} from "@surplus/adapters/chain";
import {
  createTables,
  DynamoAcceptRegistry,
  DynamoAllocatorRegistry,
  DynamoBridgeRegistry,
  DynamoOfferStatuses,
  DynamoParticipants,
  DynamoReputationLedger,
  DynamoStandingRegistry,
  documentClient,
  dynamoDbClient,
  tableNames,
} from "@surplus/adapters/dynamodb";
import {
  type ChannelLayout,
  DEFAULT_LAYOUT,
  type MarketChannels,
  type MessageBus,
  mintParticipantToken,
  ParticipantKind,
  PulsarAdmin,
  PulsarStatusPublisher,
  provisionMarket,
  provisionStatusChannel,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { type DeployedMarket, deployMarket, type MarketParameters } from "@surplus/contracts";
import {
  type Address,
  type Bytes32,
  type HistoryEntry,
  type MechanismName,
  type ReputationRequirement,
  toWire,
} from "@surplus/core";
import {
  type AgentLog,
  CustomerAgent,
  directoryServices,
  EthersMarketChain,
  firstOf,
  generatorSource,
  type InputSource,
  MediatorAgent,
  SupplierAgent,
  type SupplierStrategy,
} from "@surplus/edge";
import {
  admit,
  PulsarAllocationPublisher,
  PulsarAnnouncer,
  PulsarChannelProvisioner,
  PulsarOfferSource,
  pendingFromAccepts,
  runAcceptRound,
  runAllocatorRound,
  runBridge,
  strikeLapses,
} from "@surplus/lambdas";
import { type Contract, encryptKeystoreJsonSync, JsonRpcProvider, type Signer, Wallet } from "ethers";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");
const FUNDS = 10n ** 21n;
/** ETH for a party's gas: thousands of transactions at a local node's gas price. */
const GAS_ETH = 10n ** 18n;
/** Wallets a market may add after set-up (attach configs, tests' extra parties). */
const SPARE_WALLETS = 16n;
/** The funder's own transactions: the token and market deployments. */
const DEPLOY_ETH = 5n * 10n ** 18n;

/**
 * The example services (edge/build, made by `npm run build`), with their cost and input kind, and
 * the misbehaving test service the scenarios use (edge/build/test).
 */
export const SERVICES = {
  "people-counter": { miPerInput: 50, source: "frames" },
  "bus-energy": { miPerInput: 20, source: "telemetry" },
  echo: { miPerInput: 1, source: "frames" },
  /**
   * Traps on inputs starting with 0xfe, loops forever on 0xff, echoes the rest
   * (edge/test/services/flaky.ts). Priced like the people counter, so that a few seconds of it pay
   * a Supplier more than its share of the fees.
   */
  "test/flaky": { miPerInput: 50, source: "frames" },
} as const;
export type ServiceName = keyof typeof SERVICES;

export interface SupplierSpec {
  readonly name: string;
  readonly capacityMips?: number;
  readonly ramMb?: number;
  readonly minPricePerMi?: bigint;
  readonly strategy?: SupplierStrategy;
  /** Run it as its own `surplus-edge run` process (which a scenario may kill). @default false */
  readonly process?: boolean;
  /** Seconds each of its offers covers, from when it is posted. @default 3600 */
  readonly windowSeconds?: number;
}

export interface CustomerSpec {
  readonly name: string;
  readonly service: ServiceName;
  readonly inputsPerSecond: number;
  readonly replicas: number;
  readonly seconds: number;
  readonly maxPricePerMi?: bigint;
  /** false: never reveals nor settles (withholds γ). @default true */
  readonly reveal?: boolean;
  /** Seconds from the offer to the stream's start. @default 12 */
  readonly startInSeconds?: number;
  /** δ_min, the shortest allocation it takes. @default half of `seconds`, at most 20 */
  readonly minServiceSeconds?: number;
  /**
   * Its live inputs (its hidden tests are secret positions of this same stream).
   * @default the service's generator, seeded per Customer
   */
  readonly source?: InputSource;
  /** What it deposits in the market; 0: nothing (the front door refuses its offer, issue 17). @default 10^21 */
  readonly deposit?: bigint;
  /** What every Supplier it is matched with must have shown (issue 17). @default no requirement */
  readonly requires?: ReputationRequirement;
}

export interface MarketScenario {
  readonly suppliers: readonly SupplierSpec[];
  readonly customers: readonly CustomerSpec[];
  readonly parameters?: Partial<MarketParameters>;
  /** How long the Customer waits for sealed results after revealing. @default a third of the reveal window, ≤ 30 s */
  readonly resultWaitMs?: number;
  /**
   * Crash injection: the first allocator round that publishes an allocation, and the first bridge
   * run that announces an event, fail right after that side effect (as a Lambda killed mid-way
   * would); the next scheduled invocation retries.
   */
  readonly faults?: { readonly allocatorCrashOnce?: boolean; readonly bridgeCrashOnce?: boolean };
  /** The Allocator's round mechanism (README "Allocator mechanisms"). @default core DEFAULT_MECHANISM */
  readonly mechanism?: MechanismName;
}

/** Raised by the crash injection (MarketScenario.faults). */
export class InjectedCrash extends Error {
  constructor(where: string) {
    super(`injected crash in ${where}`);
    this.name = "InjectedCrash";
  }
}

export interface Stack {
  readonly pulsar: { readonly webUrl: string; readonly adminToken: string; readonly tokenSecret: string };
  readonly dynamodbEndpoint: string;
  readonly chainRpcUrl: string;
}

/** One protocol event, as the agents and the scheduled use cases log it. */
export interface MarketEvent {
  readonly at: number;
  readonly who: string;
  readonly event: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

export interface Participant {
  readonly name: string;
  readonly kind: ParticipantKind;
  readonly wallet: Wallet;
  readonly address: Address;
  readonly bus: MessageBus;
  /** Its Pulsar token (role = its address). */
  readonly token: string;
  /** The `surplus-edge run` process, for participants run as their own process. */
  child?: ChildProcess;
}

/** Demo and test parameters: short windows, fees scaled to jobs of a few seconds. */
export const LOCAL_PARAMETERS: Partial<MarketParameters> = {
  penaltyRate: 50n,
  allocatorFee: 10n ** 12n,
  mediatorFee: 2n * 10n ** 12n,
  signingWindow: 120n,
  revealWindow: 300n,
  mediationWindow: 300n,
};

export class LocalMarket {
  readonly events: MarketEvent[] = [];
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
  readonly startBalances = new Map<string, bigint>();
  /** When each allocation was opened on-chain by the Allocator, with every signature. */
  readonly opened = new Map<Bytes32, number>();
  readonly gas: Array<{ allocation: string; call: string; by: string; gas: bigint }> = [];
  readonly #loops: Array<Promise<void>> = [];
  /** Offer rounds the Allocator has completed (failed ones included). */
  #offerRounds = 0;
  #running = true;
  readonly #provider: JsonRpcProvider;
  readonly #stack: Stack;
  readonly #scenario: MarketScenario;
  readonly #listeners: Array<(e: MarketEvent) => void> = [];
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
    options: { onEvent?: (e: MarketEvent) => void; dataDir?: string } = {},
  ): Promise<LocalMarket> {
    const id = `${Date.now().toString(36)}${Math.floor(Math.random() * 1296).toString(36)}`;
    const m = new LocalMarket(stack, scenario, options.dataDir ?? join(ROOT, ".data/market", id));
    if (options.onEvent) m.#listeners.push(options.onEvent);
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

  onEvent(listener: (e: MarketEvent) => void): void {
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

  get dataDir(): string {
    return this.#dataDir;
  }

  /** Where the Customers publish their services (`<hash>.wasm`) for the Suppliers and the Mediator. */
  get servicesDir(): string {
    return join(this.#dataDir, "services");
  }

  async #setUp(id: string): Promise<void> {
    // This market's own funder, so several markets on one node (concurrent tests) never race
    // for the node account's nonces: only this one transfer goes through the shared account.
    this.#funder = Wallet.createRandom().connect(this.#provider) as unknown as Wallet;
    // Every party is a key of its own (not a node account): the same kind of key a
    // `surplus-edge run` process decrypts from its keystore.
    const n = 3 + this.#scenario.suppliers.length + this.#scenario.customers.length;
    // Only what this market spends: the node's account holds 10,000 ETH for every market a test
    // run starts on it (a fixed 1,000 ETH each drained it after ten).
    const funding = (BigInt(n) + SPARE_WALLETS) * GAS_ETH + DEPLOY_ETH;
    await devAccountQueue(this.#provider, async (dev) => {
      await (await dev.sendTransaction({ to: this.#funder.address, value: funding })).wait();
    });
    const wallets = await this.#newWallets(n);
    const [treasury, allocatorKey, mediatorKey, ...rest] = wallets;
    this.treasury = treasury!.address as Address;
    this.deployed = await deployMarket(this.#funder, {
      treasury: this.treasury,
      parameters: { ...LOCAL_PARAMETERS, ...this.#scenario.parameters },
    });
    this.record("chain", "market.deployed", {
      market: this.deployed.marketAddress,
      token: this.deployed.tokenAddress,
    });

    const admin = new PulsarAdmin({ url: this.#stack.pulsar.webUrl, token: this.#stack.pulsar.adminToken });
    // A tenant of its own: offers left on a reused broker by an earlier run are not matched again.
    this.layout = { ...DEFAULT_LAYOUT, tenant: `market-${id}` };
    this.channels = await provisionMarket(admin, this.layout);
    const dynamo = dynamoDbClient(this.#stack.dynamodbEndpoint);
    this.#admitted = new DynamoParticipants(documentClient(dynamo), tableNames(this.prefix));
    await createTables(dynamo, tableNames(this.prefix));

    const participant = async (name: string, kind: ParticipantKind, wallet: Wallet) => {
      const p = await this.#participant(name, kind, wallet);
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
    this.#admin = admin;
    await Promise.all(this.participants.map((p) => this.#enrol(p)));
    for (const p of [...this.participants, { name: "treasury", address: this.treasury }])
      this.startBalances.set(p.name, await this.balanceOf(p.address));
    this.record("market", "participants.funded", {
      participants: this.participants.length,
      each: FUNDS.toString(),
    });

    // The scheduled use cases: the Allocator's offer round every second, its accept round every
    // 250 ms, the verifier-bridge every 500 ms.
    const allocatorRegistry = new DynamoAllocatorRegistry(documentClient(dynamo), tableNames(this.prefix));
    const domain = this.deployed.domain;
    const allocatorDeps = {
      source: new PulsarOfferSource(this.allocator.bus, this.channels.offers, 300),
      registry: allocatorRegistry,
      publisher: crashOnce(
        new PulsarAllocationPublisher(
          this.allocator.bus,
          this.channels.allocations,
          this.allocator.wallet,
          domain,
        ),
        "publishAllocation",
        this.#scenario.faults?.allocatorCrashOnce === true,
        () => this.record("allocator", "crash.injected", {}),
      ),
    };
    const penaltyRate = this.#scenario.parameters?.penaltyRate ?? LOCAL_PARAMETERS.penaltyRate!;
    // Paper ④, as the Lambda runs it after each offer round: accepts from the accept channel
    // recorded in DynamoDB, allocations every party accepted opened on the contract.
    const acceptDeps = {
      source: new PulsarOfferSource(this.allocator.bus, this.channels.accept, 300),
      registry: new DynamoAcceptRegistry(documentClient(dynamo), tableNames(this.prefix)),
      opener: new MarketAllocationOpener(this.allocator.wallet, this.deployed.marketAddress),
    };
    // The front door (issue 16), as the Lambda wires it: only admitted, funded parties are
    // allocated; a party whose allocations lapse is backed off.
    const frontDoor = {
      balances: new ContractFreeBalances(this.#provider, this.deployed.marketAddress),
      standing: new DynamoStandingRegistry(documentClient(dynamo), tableNames(this.prefix)),
      participants: this.#admitted,
      pending: pendingFromAccepts(acceptDeps.registry),
    };
    const fees = await readMarketFees(this.#provider, this.deployed.marketAddress);
    this.offerStatuses = new DynamoOfferStatuses(documentClient(dynamo), tableNames(this.prefix));
    this.reputations = new DynamoReputationLedger(documentClient(dynamo), tableNames(this.prefix));
    const statusChannel = new PulsarStatusPublisher(this.allocator.bus, this.layout);
    this.#every(1_000, "allocator", async () => {
      const report = await runAllocatorRound(
        {
          ...allocatorDeps,
          frontDoor,
          statuses: this.offerStatuses,
          statusChannel,
          reputation: this.reputations,
          requirementOf: (account: Address) =>
            this.#scenario.customers.find(
              (c) => this.customers.find((x) => x.spec === c)?.p.address === account,
            )?.requires,
        },
        {
          domain,
          allocator: this.allocator.address,
          penaltyRate,
          frontDoor: { fees },
          ...(this.#scenario.mechanism ? { mechanism: this.#scenario.mechanism } : {}),
        },
        Date.now(),
      ).finally(() => this.#offerRounds++);
      for (const r of report.refused) this.record("allocator", "offer.refused", r);
      if (report.recorded || report.allocations || report.voids || report.rejected.length)
        this.record("allocator", "round", {
          recorded: report.recorded,
          allocations: report.allocations,
          voids: report.voids,
          rejected: report.rejected.length,
          ...(report.rejected.length ? { reasons: report.rejected.map((r) => r.error) } : {}),
        });
    });
    // The accept round on a schedule of its own (in AWS both run in each scheduled invocation):
    // an allocation is opened within a quarter second of its last Accept, not after an offer round.
    this.#every(250, "allocator", async () => {
      const accepts = await runAcceptRound(
        acceptDeps,
        { domain, allocator: this.allocator.address },
        Date.now(),
      );
      for (const r of accepts.rejected) this.record("allocator", "accept.rejected", { error: r.error });
      for (const o of accepts.opened) {
        this.opened.set(o.allocationId, Date.now());
        this.record("allocator", "tx", {
          call: "open",
          allocation: o.allocationId,
          gas: o.gasUsed.toString(),
        });
      }
      for (const id of accepts.alreadyOpen) if (!this.opened.has(id)) this.opened.set(id, Date.now());
      for (const l of accepts.lapsed) this.record("allocator", "allocation.lapsed", l);
      if (accepts.lapsed.length)
        await strikeLapses(
          { standing: frontDoor.standing, accepts: acceptDeps.registry, balances: frontDoor.balances },
          accepts.lapsed,
          Date.now(),
          { fees },
        );
      for (const f of accepts.failed) this.record("allocator", "open.failed", f);
    });
    const adminBus = new WebSocketMessageBus({
      url: this.#stack.pulsar.webUrl,
      token: this.#stack.pulsar.adminToken,
    });
    this.bridgeRegistry = new DynamoBridgeRegistry(dynamo, tableNames(this.prefix));
    const bridgeDeps = {
      chain: new MarketEventReader(this.#provider, this.deployed.marketAddress),
      registry: this.bridgeRegistry,
      announcer: crashOnce(
        new PulsarAnnouncer(adminBus, this.channels.allocations),
        "announce",
        this.#scenario.faults?.bridgeCrashOnce === true,
        () => this.record("bridge", "crash.injected", {}),
      ),
      channels: new PulsarChannelProvisioner(admin, this.layout),
      reputation: {
        ledger: this.reputations,
        historyOf: async (allocationId: Bytes32) =>
          ((await this.bridgeRegistry.chainStateOf(allocationId))?.history ??
            []) as unknown as HistoryEntry[],
      },
    };
    this.#every(500, "bridge", async () => {
      const r = await runBridge(bridgeDeps, { confirmations: 0, startBlock: 0 });
      if (r.applied)
        this.record("bridge", "applied", { events: r.applied, fromBlock: r.fromBlock, toBlock: r.toBlock });
    });
    this.#closers.push(() => adminBus.close());
    // The Allocator is up before the participants come, as a deployed one would be: its first
    // round opens the offers channel's Reader (which waits for a new subscription's first
    // messages) on an empty channel, not while the first offers trickle in.
    await this.#until("the Allocator's first offer round", () => this.#offerRounds > 0, 60_000);

    // The participants' agents.
    // Each Customer publishes its service into the market's services folder (as `surplus-edge run`
    // publishes into its `services.dir`), where Suppliers and the Mediator find it by hash.
    const services = firstOf(
      directoryServices(join(ROOT, "edge/build")),
      directoryServices(this.servicesDir),
    );
    const base = (p: Participant) => ({
      name: p.name,
      signer: p.wallet as Signer,
      bus: p.bus,
      domain,
      chain: new EthersMarketChain(this.deployed.marketAddress, p.wallet),
      channels: this.channels,
      layout: this.layout,
      dataDir: join(this.#dataDir, p.address),
      services,
      log: this.logFor(p.name),
      allocators: [this.allocator.address],
      tickMs: 500,
    });
    this.mediator = { p: mediator, agent: new MediatorAgent(base(mediator)) };
    await this.mediator.agent.start();
    for (const [i, spec] of this.#scenario.suppliers.entries()) {
      const p = suppliers[i]!;
      const options = {
        ...base(p),
        offer: {
          capacityMips: spec.capacityMips ?? 1100,
          ramMb: spec.ramMb ?? 512,
          minPricePerMi: spec.minPricePerMi ?? 10n ** 9n + BigInt(i) * 10n ** 8n,
          mediators: [mediator.address],
          ...(spec.windowSeconds ? { windowSeconds: spec.windowSeconds } : {}),
        },
        ...(spec.strategy ? { strategy: spec.strategy } : {}),
      };
      if (spec.process) {
        this.suppliers.push({ spec, p });
        this.startProcess(p, "supplier", this.#supplierSection(spec, i));
        // Its offer must be on the channel before the Customers post theirs.
        await this.#until(
          `${p.name} to start`,
          () => this.events.some((e) => e.who === p.name && e.event === "offer.posted"),
          90_000,
        );
      } else {
        const agent = new SupplierAgent(options);
        await agent.start();
        this.suppliers.push({ spec, p, agent });
      }
    }
    for (const [i, spec] of this.#scenario.customers.entries()) {
      const p = customers[i]!;
      const svc = SERVICES[spec.service];
      const agent = new CustomerAgent({
        ...base(p),
        job: {
          wasm: serviceWasm(spec.service),
          serviceName: spec.service,
          miPerInput: svc.miPerInput,
          ramMb: 128,
          inputsPerSecond: spec.inputsPerSecond,
          seconds: spec.seconds,
          startInSeconds: spec.startInSeconds ?? 12,
          ...(spec.minServiceSeconds ? { minServiceSeconds: spec.minServiceSeconds } : {}),
          maxPricePerMi: spec.maxPricePerMi ?? 3n * 10n ** 9n,
          replicas: spec.replicas,
          minReplicas: 1,
          mediators: [mediator.address],
        },
        source: spec.source ?? generatorSource(svc.source, 1000 + i),
        publishServiceTo: this.servicesDir,
        ...(spec.reveal === false ? { reveal: false } : {}),
        ...(this.#scenario.resultWaitMs ? { resultWaitMs: this.#scenario.resultWaitMs } : {}),
      });
      await agent.start();
      this.customers.push({ spec, p, agent });
    }
  }

  readonly #closers: Array<() => Promise<void>> = [];
  #funder!: Wallet;

  /** New keys with GAS_ETH each for gas, funded by this market's funder. */
  async #newWallets(n: number): Promise<Wallet[]> {
    const wallets = Array.from(
      { length: n },
      () => Wallet.createRandom().connect(this.#provider) as unknown as Wallet,
    );
    let nonce = await this.#funder.getNonce("pending");
    await Promise.all(
      wallets.map(async (w) =>
        (await this.#funder.sendTransaction({ to: w.address, value: GAS_ETH, nonce: nonce++ })).wait(),
      ),
    );
    return wallets;
  }
  #admin!: PulsarAdmin;
  #admitted!: DynamoParticipants;

  /** Funds a participant's market balance (mint, approve, deposit) and admits it on Pulsar. */
  async #enrol(p: { address: Address; wallet: Wallet; kind: ParticipantKind }): Promise<void> {
    const token = this.deployed.token.connect(p.wallet) as Contract;
    const market = this.deployed.market.connect(p.wallet) as Contract;
    const deposit = this.#scenario.customers.find((c) => "name" in p && c.name === p.name)?.deposit ?? FUNDS;
    await (await token.getFunction("mint")(p.address, FUNDS)).wait();
    await (await token.getFunction("approve")(this.deployed.marketAddress, FUNDS)).wait();
    if (deposit > 0n) await (await market.getFunction("deposit")(deposit)).wait();
    // Its offer-status channel (issue 17): the Allocator writes, it alone reads.
    if (this.allocator)
      await provisionStatusChannel(this.#admin, p.address, this.allocator.address, this.layout);
    // The operator's admission (docs/front-door.md): recorded for the Allocator and granted on the broker.
    await admit(
      { admin: this.#admin, record: this.#admitted },
      { address: p.address, kind: p.kind },
      { nowMs: Date.now(), layout: this.layout },
    );
  }

  /**
   * A funded Supplier and Customer that are not running, with keystores and `surplus-edge` configs
   * in `dir` (Pulsar tokens inside; local use only), for a user to attach from another terminal.
   */
  async attachConfigs(dir: string): Promise<{ supplier: string; customer: string }> {
    const out: Record<string, string> = {};
    for (const role of ["supplier", "customer"] as const) {
      const [wallet] = (await this.#newWallets(1)) as [Wallet];
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
  static readonly KEYSTORE_PASSWORD = "surplus-local-only";

  async #until(what: string, ok: () => boolean, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  /** Kills a participant's `surplus-edge` process at once (SIGKILL: no clean-up at all). */
  async kill(p: Participant): Promise<void> {
    const child = p.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const gone = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await gone;
  }

  /** Starts the `surplus-edge` process of a participant again, on the same data folder and key. */
  restart(p: Participant): ChildProcess {
    const i = this.suppliers.findIndex((s) => s.p === p);
    if (i < 0) throw new Error(`${p.name} is not a Supplier run as a process`);
    return this.startProcess(p, "supplier", this.#supplierSection(this.suppliers[i]!.spec, i));
  }

  /** A participant with its own Pulsar token (role = its address) and connection. */
  async #participant(name: string, kind: ParticipantKind, wallet: Wallet): Promise<Participant> {
    const address = wallet.address as Address;
    const secret = new Uint8Array(Buffer.from(this.#stack.pulsar.tokenSecret, "base64"));
    const token = await mintParticipantToken(secret, address);
    return {
      name,
      kind,
      wallet,
      address,
      token,
      bus: new WebSocketMessageBus({ url: this.#stack.pulsar.webUrl, token }),
    };
  }

  /** A participant outside the scenario (funded, admitted on Pulsar), e.g. to misbehave on the channels. */
  async addParticipant(name: string, kind: ParticipantKind): Promise<Participant> {
    const [wallet] = (await this.#newWallets(1)) as [Wallet];
    const p = await this.#participant(name, kind, wallet);
    await this.#enrol(p);
    this.participants.push(p);
    this.startBalances.set(name, await this.balanceOf(p.address));
    return p;
  }

  #supplierSection(spec: SupplierSpec, i: number) {
    return {
      supplier: {
        capacityMips: spec.capacityMips ?? 1100,
        ramMb: spec.ramMb ?? 512,
        minPricePerMi: (spec.minPricePerMi ?? 10n ** 9n + BigInt(i) * 10n ** 8n).toString(),
        mediators: [this.mediator.p.address],
        ...(spec.strategy ? { strategy: spec.strategy } : {}),
        ...(spec.windowSeconds ? { windowSeconds: spec.windowSeconds } : {}),
      },
    };
  }

  /** Writes a keystore and a config for `p`, and runs `surplus-edge run` for it as a child process. */
  startProcess(
    p: Participant,
    role: "supplier" | "customer" | "mediator",
    section: Record<string, unknown>,
  ): ChildProcess {
    const dir = join(this.#dataDir, p.address);
    mkdirSync(dir, { recursive: true });
    const config = this.configFor(role, dir, section);
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify(config, null, 2));
    const keystore = join(dir, "key.json");
    // A cheap scrypt for a local throw-away key; real keystores use `surplus-edge init`.
    writeFileSync(keystore, localKeystore(p.wallet), { mode: 0o600 });
    const child = spawn(process.execPath, [join(ROOT, "edge/bin/surplus-edge.ts"), "run", "--config", file], {
      cwd: ROOT,
      env: {
        ...process.env,
        SURPLUS_KEYSTORE_PASSWORD: LocalMarket.KEYSTORE_PASSWORD,
        SURPLUS_PULSAR_TOKEN: p.token,
      },
      stdio: ["ignore", "pipe", "pipe"],
    });
    p.child = child;
    const lines = (chunk: Buffer, err: boolean) => {
      for (const line of chunk.toString().split("\n")) {
        if (!line) continue;
        try {
          const {
            event,
            time: _t,
            role: _r,
            name: _n,
            ...fields
          } = JSON.parse(line) as Record<string, unknown>;
          this.record(p.name, String(event), fields);
        } catch {
          this.record(p.name, err ? "stderr" : "stdout", { line });
        }
      }
    };
    child.stdout!.on("data", (c: Buffer) => lines(c, false));
    child.stderr!.on("data", (c: Buffer) => lines(c, true));
    child.on("exit", (code, signal) => this.record(p.name, "process.exited", { code, signal }));
    return child;
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

  #every(ms: number, name: string, fn: () => Promise<void>): void {
    this.#loops.push(
      (async () => {
        while (this.#running) {
          const started = Date.now();
          try {
            await fn();
          } catch (error) {
            this.record(name, "invocation.failed", { error: (error as Error).message });
          }
          // A fixed interval between starts (a slow invocation is followed at once by the next).
          await new Promise((r) => setTimeout(r, Math.max(0, ms - (Date.now() - started))));
        }
      })(),
    );
  }

  /** Why an allocation closed, as the contract's CloseReason (undefined while it is open). */
  async closeReasonOf(id: Bytes32): Promise<number | undefined> {
    const market = this.deployed.market as Contract;
    const logs = await market.queryFilter(market.filters.AllocationClosed!(id));
    const reason = (logs[0] as unknown as { args?: { reason: bigint } } | undefined)?.args?.reason;
    return reason === undefined ? undefined : Number(reason);
  }

  async balanceOf(address: string): Promise<bigint> {
    return (await this.deployed.market.getFunction("balanceOf")(address)) as bigint;
  }

  /** Every participant's and the treasury's change of market balance since the start. */
  async balanceChanges(): Promise<Array<{ name: string; start: bigint; end: bigint; change: bigint }>> {
    const out = [];
    for (const p of [...this.participants, { name: "treasury", address: this.treasury }]) {
      const end = await this.balanceOf(p.address);
      const start = this.startBalances.get(p.name) ?? 0n;
      out.push({ name: p.name, start, end, change: end - start });
    }
    return out;
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
    mkdirSync(this.#dataDir, { recursive: true });
    writeFileSync(
      join(this.#dataDir, "events.jsonl"),
      this.events
        .map((e) => toWire({ t: new Date(e.at).toISOString(), who: e.who, event: e.event, ...e.fields }))
        .join("\n"),
    );
    const agents = [
      this.mediator?.agent,
      ...this.suppliers.map((s) => s.agent),
      ...this.customers.map((c) => c.agent),
    ].filter((a) => a !== undefined);
    await Promise.allSettled(agents.map((a) => a.stop()));
    this.#running = false;
    for (const p of this.participants) {
      if (p.child && p.child.exitCode === null) {
        const gone = new Promise((r) => p.child!.once("exit", r));
        p.child.kill("SIGTERM");
        await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
        if (p.child.exitCode === null) p.child.kill("SIGKILL");
      }
    }
    await Promise.allSettled(this.#loops);
    await Promise.allSettled(this.participants.map((p) => p.bus.close()));
    await Promise.allSettled(this.#closers.map((c) => c()));
    this.#provider.destroy();
  }
}

/**
 * A keystore for the local market's throw-away keys, with a cheap scrypt (N = 2^12) so a
 * `surplus-edge` process starts in well under a second; `surplus-edge init` writes real ones.
 */
function localKeystore(wallet: Wallet): string {
  return encryptKeystoreJsonSync(
    { address: wallet.address, privateKey: wallet.privateKey },
    LocalMarket.KEYSTORE_PASSWORD,
    {
      scrypt: { N: 1 << 12 },
    },
  );
}

let devQueue: Promise<unknown> = Promise.resolve();
/** Runs `fn` with the node's first account, one caller at a time in this process. */
function devAccountQueue(provider: JsonRpcProvider, fn: (dev: Signer) => Promise<void>): Promise<void> {
  const run = devQueue.then(async () => fn(await provider.getSigner(0)));
  devQueue = run.catch(() => undefined);
  return run;
}

/**
 * `target` with `method` failing once, right after it did its work (when `armed`): a crash between
 * a side effect and its record.
 */
function crashOnce<T extends object>(
  target: T,
  method: keyof T & string,
  armed: boolean,
  onCrash: () => void,
): T {
  if (!armed) return target;
  let crashed = false;
  const original = (target[method] as (...a: unknown[]) => Promise<unknown>).bind(target);
  Object.assign(target, {
    [method]: async (...args: unknown[]) => {
      const result = await original(...args);
      if (!crashed) {
        crashed = true;
        onCrash();
        throw new InjectedCrash(method);
      }
      return result;
    },
  });
  return target;
}

/** A compiled example service (edge/build, made by `npm run build`). */
export function serviceWasm(name: string): Uint8Array {
  try {
    return new Uint8Array(readFileSync(join(ROOT, "edge/build", `${name}.wasm`)));
  } catch {
    throw new Error(
      `edge/build/${name}.wasm is missing: the edge services are not built (\`./surplus market\` builds them; from code, \`npm run build\`)`,
    );
  }
}
