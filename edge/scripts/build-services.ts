// Compiles the AssemblyScript services to edge/build/*.wasm (and the misbehaving test services to
// edge/build/test/*.wasm). Skips a module whose source is older than its .wasm.
import { mkdir, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import asc from "assemblyscript/asc";

const edge = join(dirname(fileURLToPath(import.meta.url)), "..");
const targets: Array<[source: string, out: string]> = [
  ["services/people-counter.ts", "build/people-counter.wasm"],
  ["services/bus-energy.ts", "build/bus-energy.wasm"],
  ["services/echo.ts", "build/echo.wasm"],
  ["test/services/trap.ts", "build/test/trap.wasm"],
  ["test/services/loop.ts", "build/test/loop.wasm"],
  ["test/services/hog.ts", "build/test/hog.wasm"],
  ["test/services/clock.ts", "build/test/clock.wasm"],
  ["test/services/flaky.ts", "build/test/flaky.wasm"],
];

async function mtime(path: string): Promise<number> {
  try {
    return (await stat(path)).mtimeMs;
  } catch {
    return 0;
  }
}

const abiTime = await mtime(join(edge, "services/abi.ts"));
let built = 0;
for (const [source, out] of targets) {
  const outPath = join(edge, out);
  if ((await mtime(outPath)) > Math.max(await mtime(join(edge, source)), abiTime)) continue;
  await mkdir(dirname(outPath), { recursive: true });
  const { error, stderr } = await asc.main(
    [
      join(edge, source),
      "--outFile",
      outPath,
      "--runtime",
      "stub",
      "--importMemory",
      "--initialMemory",
      "1",
      "--optimizeLevel",
      "3",
      "--shrinkLevel",
      "1",
      "--noExportMemory",
    ],
    {},
  );
  if (error) {
    process.stderr.write(stderr.toString());
    throw new Error(`could not compile ${source}: ${error.message}`);
  }
  built++;
}
process.stderr.write(`[edge] services: ${built} compiled, ${targets.length - built} up to date\n`);
