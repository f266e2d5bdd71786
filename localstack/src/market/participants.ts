// A local market's participants: their keys (each a key of its own, funded with gas by the market's
// funder), their market funds (mint, approve, deposit), their Pulsar tokens and connections, and
// the edge agents (edge/src/agents) that run the Customers, Suppliers and the Mediator.

import type { ChildProcess } from "node:child_process";
import { join } from "node:path";
import {
  type MessageBus,
  mintParticipantToken,
  type ParticipantKind,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import type { DeployedMarket } from "@surplus/contracts";
import type { Address } from "@surplus/core";
import {
  CustomerAgent,
  directoryServices,
  EthersMarketChain,
  firstOf,
  generatorSource,
  MediatorAgent,
  SupplierAgent,
} from "@surplus/edge";
import type { Contract, JsonRpcProvider, Signer, Wallet } from "ethers";
import { Wallet as EthersWallet } from "ethers";
import type { LocalMarket } from "./harness.ts";
import {
  type MarketScenario,
  ROOT,
  SERVICES,
  type Stack,
  type SupplierSpec,
  serviceWasm,
  until,
} from "./scenario.ts";

/** Token units each participant is minted (and, unless its spec says otherwise, deposits). */
export const FUNDS = 10n ** 21n;
/** ETH for a party's gas: thousands of transactions at a local node's gas price. */
const GAS_ETH = 10n ** 18n;
/** Wallets a market may add after set-up (attach configs, tests' extra parties). */
const SPARE_WALLETS = 16n;
/** The funder's own transactions: the token and market deployments. */
const DEPLOY_ETH = 5n * 10n ** 18n;

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

/**
 * This market's own funder, with ETH for `parties` keys (plus spares) and the deployments, so
 * several markets on one node (concurrent tests) never race for the node account's nonces: only
 * this one transfer goes through the shared account.
 */
export async function newFunder(provider: JsonRpcProvider, parties: number): Promise<Wallet> {
  const funder = EthersWallet.createRandom().connect(provider) as unknown as Wallet;
  // Only what this market spends: the node's account holds 10,000 ETH for every market a test
  // run starts on it (a fixed 1,000 ETH each drained it after ten).
  const funding = (BigInt(parties) + SPARE_WALLETS) * GAS_ETH + DEPLOY_ETH;
  await devAccountQueue(provider, async (dev) => {
    await (await dev.sendTransaction({ to: funder.address, value: funding })).wait();
  });
  return funder;
}

/**
 * New keys with GAS_ETH each for gas, funded by this market's funder. Every party is a key of its
 * own (not a node account): the same kind of key a `surplus-edge run` process decrypts from its keystore.
 */
export async function newWallets(funder: Wallet, n: number): Promise<Wallet[]> {
  const wallets = Array.from(
    { length: n },
    () => EthersWallet.createRandom().connect(funder.provider) as unknown as Wallet,
  );
  let nonce = await funder.getNonce("pending");
  await Promise.all(
    wallets.map(async (w) =>
      (await funder.sendTransaction({ to: w.address, value: GAS_ETH, nonce: nonce++ })).wait(),
    ),
  );
  return wallets;
}

let devQueue: Promise<unknown> = Promise.resolve();
/** Runs `fn` with the node's first account, one caller at a time in this process. */
function devAccountQueue(provider: JsonRpcProvider, fn: (dev: Signer) => Promise<void>): Promise<void> {
  const run = devQueue.then(async () => fn(await provider.getSigner(0)));
  devQueue = run.catch(() => undefined);
  return run;
}

/** A participant with its own Pulsar token (role = its address) and connection. */
export async function newParticipant(
  stack: Stack,
  name: string,
  kind: ParticipantKind,
  wallet: Wallet,
): Promise<Participant> {
  const address = wallet.address as Address;
  const secret = new Uint8Array(Buffer.from(stack.pulsar.tokenSecret, "base64"));
  const token = await mintParticipantToken(secret, address);
  return {
    name,
    kind,
    wallet,
    address,
    token,
    bus: new WebSocketMessageBus({ url: stack.pulsar.webUrl, token }),
  };
}

/** Funds a participant's market balance: mints FUNDS, approves them, deposits `deposit`. */
export async function fund(
  deployed: DeployedMarket,
  p: { readonly address: Address; readonly wallet: Wallet },
  deposit: bigint,
): Promise<void> {
  const token = deployed.token.connect(p.wallet) as Contract;
  const market = deployed.market.connect(p.wallet) as Contract;
  await (await token.getFunction("mint")(p.address, FUNDS)).wait();
  await (await token.getFunction("approve")(deployed.marketAddress, FUNDS)).wait();
  if (deposit > 0n) await (await market.getFunction("deposit")(deposit)).wait();
}

/** A Supplier's `surplus-edge` config section (its offer), as the in-process agent offers. */
export function supplierSection(spec: SupplierSpec, i: number, mediator: Address) {
  return {
    supplier: {
      capacityMips: spec.capacityMips ?? 1100,
      ramMb: spec.ramMb ?? 512,
      minPricePerMi: (spec.minPricePerMi ?? 10n ** 9n + BigInt(i) * 10n ** 8n).toString(),
      mediators: [mediator],
      ...(spec.strategy ? { strategy: spec.strategy } : {}),
      ...(spec.windowSeconds ? { windowSeconds: spec.windowSeconds } : {}),
    },
  };
}

/**
 * Starts the Mediator's, the Suppliers' and the Customers' edge agents (or `surplus-edge run`
 * processes, for Suppliers whose spec asks for one), in that order: each Supplier's offer is on
 * the channel before the Customers post theirs.
 */
export async function startAgents(
  m: LocalMarket,
  scenario: MarketScenario,
  parties: { mediator: Participant; suppliers: Participant[]; customers: Participant[] },
): Promise<void> {
  const { mediator, suppliers, customers } = parties;
  // Each Customer publishes its service into the market's services folder (as `surplus-edge run`
  // publishes into its `services.dir`), where Suppliers and the Mediator find it by hash.
  const services = firstOf(directoryServices(join(ROOT, "edge/build")), directoryServices(m.servicesDir));
  const base = (p: Participant) => ({
    name: p.name,
    signer: p.wallet as Signer,
    bus: p.bus,
    domain: m.deployed.domain,
    chain: new EthersMarketChain(m.deployed.marketAddress, p.wallet),
    channels: m.channels,
    layout: m.layout,
    dataDir: join(m.dataDir, p.address),
    services,
    log: m.logFor(p.name),
    allocators: [m.allocator.address],
    tickMs: 500,
  });
  m.mediator = { p: mediator, agent: new MediatorAgent(base(mediator)) };
  await m.mediator.agent.start();
  for (const [i, spec] of scenario.suppliers.entries()) {
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
      m.suppliers.push({ spec, p });
      m.startProcess(p, "supplier", supplierSection(spec, i, mediator.address));
      // Its offer must be on the channel before the Customers post theirs.
      await until(
        `${p.name} to start`,
        () => m.events.some((e) => e.who === p.name && e.event === "offer.posted"),
        90_000,
      );
    } else {
      const agent = new SupplierAgent(options);
      await agent.start();
      m.suppliers.push({ spec, p, agent });
    }
  }
  for (const [i, spec] of scenario.customers.entries()) {
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
      publishServiceTo: m.servicesDir,
      ...(spec.reveal === false ? { reveal: false } : {}),
      ...(scenario.resultWaitMs ? { resultWaitMs: scenario.resultWaitMs } : {}),
    });
    await agent.start();
    m.customers.push({ spec, p, agent });
  }
}
