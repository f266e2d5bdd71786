// Hardhat 3 configuration of the market contract. Compiles offline with the npm `solc` package
// (solc-js), so no compiler download is needed.
import { createRequire } from "node:module";
import hardhatEthers from "@nomicfoundation/hardhat-ethers";
import hardhatIgnitionEthers from "@nomicfoundation/hardhat-ignition-ethers";
import hardhatKeystore from "@nomicfoundation/hardhat-keystore";
import hardhatNetworkHelpers from "@nomicfoundation/hardhat-network-helpers";
import { configVariable, defineConfig } from "hardhat/config";

const require = createRequire(import.meta.url);

export default defineConfig({
  plugins: [hardhatEthers, hardhatNetworkHelpers, hardhatIgnitionEthers, hardhatKeystore],
  solidity: {
    version: "0.8.30",
    path: require.resolve("solc/soljson.js"),
    settings: { optimizer: { enabled: true, runs: 100 }, evmVersion: "prague", viaIR: true },
  },
  paths: { tests: { solidity: "test/solidity" } },
  test: {
    solidity: {
      fuzz: { runs: 10_000 },
      invariant: { runs: 64, depth: 48, failOnRevert: false },
    },
  },
  networks: {
    // `hardhat node` (the local market's chain): several transactions mined in one second share a
    // timestamp, so the chain's clock keeps to the wall clock instead of racing ahead one second
    // per block — the protocol's deadlines (signing, reveal, mediation) are in chain time.
    node: { type: "edr-simulated", chainType: "l1", allowBlocksWithSameTimestamp: true },
    sepolia: {
      type: "http",
      chainType: "l1",
      url: configVariable("SEPOLIA_RPC_URL"),
      accounts: [configVariable("SEPOLIA_PRIVATE_KEY")],
    },
  },
});
