// Copies the ABI and bytecode of the deployable contracts from Hardhat's build output into
// src/generated/, which is committed: other packages (the verifier-bridge, edge, localstack) deploy
// and call the market through `@surplus/contracts` without compiling Solidity themselves.
//
//   node scripts/export-artifacts.ts          write src/generated/*.json
//   node scripts/export-artifacts.ts --check  fail if they differ from the build (CI)
import { readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const CONTRACTS = ["SurplusMarket", "TestToken"] as const;

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  let stale = 0;
  for (const name of CONTRACTS) {
    const built = JSON.parse(
      await readFile(join(root, `artifacts/contracts/${name}.sol/${name}.json`), "utf8"),
    ) as {
      abi: unknown;
      bytecode: string;
    };
    const text =
      JSON.stringify({ contractName: name, abi: built.abi, bytecode: built.bytecode }, null, 1) + "\n";
    const target = join(root, `src/generated/${name}.json`);
    if (check) {
      const current = await readFile(target, "utf8").catch(() => "");
      if (current !== text) {
        console.error(`src/generated/${name}.json is stale: run npm run build -w @surplus/contracts`);
        stale++;
      }
    } else {
      await writeFile(target, text);
      console.log(`wrote src/generated/${name}.json`);
    }
  }
  if (stale) process.exit(1);
}

await main();
