// An in-process Hardhat network with this package's configuration, for tests and benchmarks in
// any package: `const net = await createInProcessNetwork(); const [deployer] = await net.ethers.getSigners();`
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { createHardhatRuntimeEnvironment } from "hardhat/hre";
import config from "../hardhat.config.ts";

const contractsRoot = join(dirname(fileURLToPath(import.meta.url)), "..");

/** A fresh in-process Hardhat (EDR) network with ethers, the network helpers and Ignition. */
export async function createInProcessNetwork() {
  const hre = await createHardhatRuntimeEnvironment(config, {}, contractsRoot);
  return hre.network.create();
}

/**
 * Compiles the contracts into Hardhat's artifacts (a no-op when they are current). Only what reads
 * Hardhat's artifacts needs it (Ignition); `deployMarket()` uses the committed src/generated/.
 */
export async function buildContracts(): Promise<void> {
  const hre = await createHardhatRuntimeEnvironment(config, {}, contractsRoot);
  await hre.tasks.getTask("build").run({ quiet: true, noTests: true });
}
export type InProcessNetwork = Awaited<ReturnType<typeof createInProcessNetwork>>;
