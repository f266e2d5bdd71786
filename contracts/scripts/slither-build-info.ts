// Writes the market's Hardhat 3 build in the Hardhat 2 build-info layout crytic-compile reads
// (one file with input and output; Solidity test sources dropped), so Slither can analyse the
// exact build without compiling (no native solc is needed, none can be downloaded here):
//
//   node scripts/slither-build-info.ts OUT_DIR
//   slither . --compile-force-framework hardhat --hardhat-ignore-compile \
//     --hardhat-artifacts-directory OUT_DIR --filter-paths "npm/|node_modules"
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outDir = process.argv[2];
if (!outDir) throw new Error("usage: node scripts/slither-build-info.ts OUT_DIR");

const artifact = JSON.parse(
  await readFile(join(root, "artifacts/contracts/SurplusMarket.sol/SurplusMarket.json"), "utf8"),
) as { buildInfoId: string };
const id = artifact.buildInfoId;
const input = JSON.parse(await readFile(join(root, `artifacts/build-info/${id}.json`), "utf8"));
const { output } = JSON.parse(await readFile(join(root, `artifacts/build-info/${id}.output.json`), "utf8"));
const isTest = (source: string) => source.startsWith("project/test/");
for (const obj of [input.input.sources, output.sources, output.contracts]) {
  for (const source of Object.keys(obj ?? {})) if (isTest(source)) delete obj[source];
}
await mkdir(join(outDir, "build-info"), { recursive: true });
const merged = {
  _format: "hh-sol-build-info-1",
  id,
  solcVersion: input.solcVersion,
  solcLongVersion: input.solcLongVersion,
  input: input.input,
  output,
};
await writeFile(join(outDir, "build-info", `${id}.json`), JSON.stringify(merged));
console.log(`wrote ${join(outDir, "build-info", `${id}.json`)}`);
