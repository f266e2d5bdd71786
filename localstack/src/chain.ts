// A local chain: Hardhat 3's node (EDR) as its own process on loopback, with the market contract
// and a test payment token deployed. Idempotent: a node already answering on the port is reused.
//
// Environment: SURPLUS_CHAIN_PORT (8545).
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type DeployedMarket, deployMarket, type MarketParameters } from "@surplus/contracts";
import { JsonRpcProvider, type JsonRpcSigner } from "ethers";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

export interface LocalChain {
  readonly rpcUrl: string;
  readonly chainId: bigint;
  readonly provider: JsonRpcProvider;
  /** The node's funded development accounts (10,000 ETH each). */
  readonly accounts: readonly JsonRpcSigner[];
  /** False when an already running node was reused. */
  readonly startedHere: boolean;
  stop(): Promise<void>;
}

async function answers(rpcUrl: string): Promise<boolean> {
  try {
    const res = await fetch(rpcUrl, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      signal: AbortSignal.timeout(1_000),
    });
    return res.ok;
  } catch {
    return false;
  }
}

/** Starts (or reuses) a Hardhat node on 127.0.0.1:`port`, waiting until it answers JSON-RPC. */
export async function startChain(
  options: { port?: number; log?: (line: string) => void; readyTimeoutMs?: number } = {},
): Promise<LocalChain> {
  const log = options.log ?? ((l: string) => process.stderr.write(`[chain] ${l}\n`));
  const port = options.port ?? Number(process.env.SURPLUS_CHAIN_PORT ?? 8545);
  const rpcUrl = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  if (await answers(rpcUrl)) {
    log(`reusing the node already answering at ${rpcUrl}`);
  } else {
    const logDir = join(ROOT, ".data/chain");
    mkdirSync(logDir, { recursive: true });
    const out = openSync(join(logDir, "node.log"), "a");
    log(`starting a Hardhat node at ${rpcUrl} (log: .data/chain/node.log)…`);
    child = spawn(
      process.execPath,
      [
        join(ROOT, "node_modules/hardhat/dist/src/cli.js"),
        "node",
        "--hostname",
        "127.0.0.1",
        "--port",
        String(port),
      ],
      {
        cwd: join(ROOT, "contracts"),
        stdio: ["ignore", out, out],
        detached: false,
      },
    );
    const exited = new Promise<number | null>((r) => child!.once("exit", r));
    const deadline = Date.now() + (options.readyTimeoutMs ?? 120_000);
    for (;;) {
      if (await answers(rpcUrl)) break;
      const code = await Promise.race([
        exited,
        new Promise<undefined>((r) => setTimeout(() => r(undefined), 250)),
      ]);
      if (code !== undefined)
        throw new Error(`the Hardhat node exited with code ${code}: see .data/chain/node.log`);
      if (Date.now() > deadline) {
        child.kill("SIGTERM");
        throw new Error(`the Hardhat node did not answer at ${rpcUrl} in time: see .data/chain/node.log`);
      }
    }
    log("node ready");
  }
  const provider = new JsonRpcProvider(rpcUrl, undefined, { pollingInterval: 200 });
  const chainId = (await provider.getNetwork()).chainId;
  const accounts = await provider.listAccounts();
  return {
    rpcUrl,
    chainId,
    provider,
    accounts,
    startedHere: child !== undefined,
    async stop() {
      provider.destroy();
      if (!child || child.exitCode !== null) return;
      const gone = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
      if (child.exitCode === null) child.kill("SIGKILL");
    },
  };
}

/** Deploys the test token and the market from the node's first account. */
export async function deployLocalMarket(
  chain: LocalChain,
  options: { treasury?: string; parameters?: Partial<MarketParameters> } = {},
): Promise<DeployedMarket> {
  const deployer = chain.accounts[0]!;
  return deployMarket(deployer, {
    treasury: options.treasury ?? (await chain.accounts[1]!.getAddress()),
    ...(options.parameters ? { parameters: options.parameters } : {}),
  });
}
