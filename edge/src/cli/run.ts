// `surplus-edge run --config FILE`: one role per process (supplier, customer or mediator),
// long-running and restartable. Connects to Pulsar and the chain, starts the role's agent and
// keeps it running until SIGINT/SIGTERM; logs one JSON object per line on stdout (or readable
// lines with --pretty) and a status line every 10 s.
import { appendFileSync, readFileSync } from "node:fs";
import { stdin } from "node:process";
import {
  type ChannelLayout,
  DEFAULT_LAYOUT,
  marketChannels,
  WebSocketMessageBus,
} from "@surplus/adapters/pulsar";
import { type MarketDomain, SurplusError } from "@surplus/core";
import { JsonRpcProvider } from "ethers";
import {
  type Agent,
  type AgentLog,
  type AgentOptions,
  type AllocationProgress,
  short,
} from "../agents/agent.ts";
import { CustomerAgent } from "../agents/customer.ts";
import { MediatorAgent } from "../agents/mediator.ts";
import { directoryServices, firstOf, httpServices } from "../agents/services.ts";
import { SupplierAgent } from "../agents/supplier.ts";
import { EthersMarketChain } from "../channels/chain.ts";
import { fileSource, generatorSource, type InputSource, lineSource } from "../sources/index.ts";
import type { EdgeConfig } from "./config.ts";
import { openKeystore } from "./keystore.ts";
import { EthersMoney, StatusWriter } from "./status.ts";

export interface RunOptions {
  readonly pretty: boolean;
  /** A Customer exits once its offer is served and every allocation closed. */
  readonly exitWhenDone: boolean;
  readonly password: () => Promise<string>;
  readonly out?: (line: string) => void;
  readonly signal?: AbortSignal;
  /** How often `<dataDir>/status.json` is rewritten (what `surplus-edge status` reads). @default 5000 */
  readonly statusEveryMs?: number;
}

/** A logger that prints structured records: JSON lines, or `time role event k=v` when pretty. */
export function structuredLog(
  role: string,
  name: string,
  pretty: boolean,
  out: (l: string) => void,
): AgentLog {
  return (event, fields = {}) => {
    const time = new Date().toISOString();
    if (!pretty) {
      out(
        JSON.stringify({ time, role, name, event, ...fields }, (_k, v) =>
          typeof v === "bigint" ? v.toString() : v,
        ),
      );
      return;
    }
    const kv = Object.entries(fields)
      .map(
        ([k, v]) =>
          `${k}=${typeof v === "string" && /^0x[0-9a-f]{64}$/i.test(v) ? short(v) : JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x))}`,
      )
      .join(" ");
    out(`${time.slice(11, 23)} ${role} ${event}${kv ? ` ${kv}` : ""}`);
  };
}

function sourceOf(c: NonNullable<EdgeConfig["customer"]>): InputSource {
  switch (c.source.kind) {
    case "frames":
    case "telemetry":
      return generatorSource(c.source.kind, c.source.seed);
    case "file":
      return fileSource(c.source.path!, c.source.seed);
    case "stdin":
      return lineSource(stdin);
  }
}

/** Runs the configured role until stopped; returns the process exit code. */
export async function run(config: EdgeConfig, o: RunOptions): Promise<number> {
  const out = o.out ?? ((l: string) => process.stdout.write(`${l}\n`));
  const token = config.pulsar.token;
  if (!token)
    throw new SurplusError(
      "CONFIG",
      "no Pulsar token: set pulsar.token in the config or SURPLUS_PULSAR_TOKEN",
    );
  const wallet = await openKeystore(config.keystore, await o.password());
  const provider = new JsonRpcProvider(config.chain.rpcUrl, undefined, {
    pollingInterval: 500,
    // No response cache: a nonce read right after a mined transaction must be fresh.
    cacheTimeout: -1,
  });
  let chainId: bigint;
  try {
    chainId = (await provider.getNetwork()).chainId;
  } catch (cause) {
    provider.destroy();
    throw new SurplusError(
      "CHAIN",
      `cannot reach the chain at ${config.chain.rpcUrl}: ${(cause as Error).message}`,
      {},
      { cause },
    );
  }
  if ((await provider.getCode(config.chain.market)) === "0x") {
    provider.destroy();
    throw new SurplusError(
      "CHAIN",
      `no contract at ${config.chain.market} on chain ${chainId}: check chain.market`,
    );
  }
  const signer = wallet.connect(provider);
  const layout: ChannelLayout = {
    ...DEFAULT_LAYOUT,
    tenant: config.pulsar.tenant,
    publicNamespace: config.pulsar.namespace,
  };
  const bus = new WebSocketMessageBus({ url: config.pulsar.url, token });
  const domain: MarketDomain = { chainId, verifyingContract: config.chain.market };
  const log = structuredLog(config.role, wallet.address, o.pretty, out);
  const services = firstOf(
    directoryServices(config.services.dir!),
    ...(config.services.url ? [httpServices(config.services.url)] : []),
  );
  const base: AgentOptions = {
    name: `${config.role} ${wallet.address}`,
    signer,
    bus,
    domain,
    chain: new EthersMarketChain(config.chain.market, signer),
    channels: marketChannels(layout),
    layout,
    dataDir: config.dataDir,
    services,
    log,
    allocators: config.allocators,
  };
  let agent: Agent<AllocationProgress>;
  let status: () => Record<string, unknown>;
  let inputsTotal: () => number = () => 0;
  if (config.role === "supplier") {
    const s = config.supplier!;
    const supplier = new SupplierAgent({
      ...base,
      offer: {
        capacityMips: s.capacityMips,
        ramMb: s.ramMb,
        minPricePerMi: BigInt(s.minPricePerMi),
        mediators: s.mediators,
        windowSeconds: s.windowSeconds,
      },
      ...(s.strategy.processProbability < 1 ? { strategy: s.strategy } : {}),
      sandbox: s.sandbox,
      batchSize: s.batchSize,
    });
    agent = supplier as unknown as Agent<AllocationProgress>;
    status = () => ({ ...supplier.totals });
    inputsTotal = () => supplier.totals.processed;
  } else if (config.role === "customer") {
    const c = config.customer!;
    const sink = c.sink;
    const customer = new CustomerAgent({
      ...base,
      job: {
        wasm: readFileSync(c.service),
        serviceName: c.serviceName ?? c.service.replace(/^.*\//, "").replace(/\.wasm$/, ""),
        miPerInput: c.miPerInput,
        ramMb: c.ramMb,
        inputsPerSecond: c.inputsPerSecond,
        seconds: c.seconds,
        startInSeconds: c.startInSeconds,
        maxPricePerMi: BigInt(c.maxPricePerMi),
        replicas: c.replicas,
        minReplicas: c.minReplicas,
        ...(c.minServiceSeconds ? { minServiceSeconds: c.minServiceSeconds } : {}),
        mediators: c.mediators,
        ...(c.requires ? { requires: c.requires } : {}),
      },
      source: sourceOf(c),
      publishServiceTo: config.services.dir!,
      ...(sink
        ? {
            deliver: (seq: bigint, output: Uint8Array, from: string) =>
              appendFileSync(
                sink,
                `${JSON.stringify({ seq: seq.toString(), from, output: Buffer.from(output).toString("base64") })}\n`,
              ),
          }
        : {}),
    });
    agent = customer as unknown as Agent<AllocationProgress>;
    const delivered = () =>
      [...customer.allocations.values()].reduce((n, d) => n + (d.state.delivered ?? 0), 0);
    status = () => ({ delivered: delivered(), finished: customer.finished() });
    inputsTotal = delivered;
  } else {
    agent = new MediatorAgent(base) as unknown as Agent<AllocationProgress>;
    status = () => ({});
  }

  const stopped = new Promise<string>((resolve) => {
    const on = (sig: string) => () => resolve(sig);
    process.once("SIGINT", on("SIGINT"));
    process.once("SIGTERM", on("SIGTERM"));
    o.signal?.addEventListener("abort", () => resolve("abort"));
  });
  await agent.start();
  const statusLine = () => {
    const phases: Record<string, number> = {};
    for (const d of agent.allocations.values()) phases[d.state.phase] = (phases[d.state.phase] ?? 0) + 1;
    log("status", { allocations: phases, ...agent.counters, ...status() });
  };
  const timer = setInterval(statusLine, 10_000);
  const everyMs = o.statusEveryMs ?? 5_000;
  const writer = new StatusWriter(
    config.dataDir,
    {
      role: config.role,
      address: wallet.address,
      allocations: () =>
        [...agent.allocations.values()].map((d) => ({
          id: d.id,
          allocation: d.allocation,
          phase: d.state.phase,
        })),
      inputsTotal,
    },
    new EthersMoney(config.chain.market, provider),
    everyMs / 1000,
  );
  // One write at a time: a tick that finds the previous write still waiting on the chain skips.
  let writing: Promise<void> | undefined;
  const writeStatus = (): Promise<void> =>
    (writing ??= writer
      .write()
      .then(
        () => undefined,
        (e) => log("status.failed", { error: (e as Error).message }),
      )
      .finally(() => {
        writing = undefined;
      }));
  await writeStatus();
  const statusTimer = setInterval(writeStatus, everyMs);
  let why: string;
  if (o.exitWhenDone && agent instanceof CustomerAgent) {
    const customer = agent;
    why = await Promise.race([
      stopped,
      (async () => {
        while (!customer.finished()) await new Promise((r) => setTimeout(r, 500));
        return "done";
      })(),
    ]);
  } else {
    why = await stopped;
  }
  clearInterval(timer);
  clearInterval(statusTimer);
  log("stopping", { why });
  statusLine();
  await agent.stop();
  await writing;
  await writeStatus();
  await bus.close().catch(() => undefined);
  provider.destroy();
  return 0;
}
