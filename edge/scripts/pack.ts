// Packs the edge runtime as a device owner installs it: edge/dist/surplus-edge-<version>.tgz, an
// npm package whose `surplus-edge` bin is the one-file bundle (edge/dist/surplus-edge.mjs), with
// the example services, a systemd unit and an example config, and no dependencies at all — so
// `npm install ./surplus-edge-<version>.tgz` works in an empty folder, offline, on any Linux
// (x64 or arm64: the bundle is JavaScript and the services WebAssembly, no native addons).
//
// The workspace's own package.json cannot be packed as it is: it depends on the workspace's
// packages (@surplus/core, …), which are not published. The packed one is written from it here.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const edge = join(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(edge, "dist");
const stage = join(dist, "package");
/** The services a Supplier can calibrate with and a Customer can offer (not the test services). */
const SERVICES = ["people-counter", "bus-energy", "echo"];

// Compile the services (incremental) and bundle the runtime first: both scripts run on import.
await import("./build-services.ts");
await import("./bundle.ts");

const workspace = JSON.parse(readFileSync(join(edge, "package.json"), "utf8")) as {
  name: string;
  version: string;
  description: string;
};
const manifest = {
  name: workspace.name,
  version: workspace.version,
  description: workspace.description,
  type: "module",
  license: "UNLICENSED",
  bin: { "surplus-edge": "bin/surplus-edge.mjs" },
  // The bundle targets Node 22 (esbuild `target: "node22"`) and uses only Node's own modules.
  engines: { node: ">=22" },
  os: ["linux"],
  files: ["bin/", "services/", "systemd/", "examples/", "README.md"],
};

rmSync(stage, { recursive: true, force: true });
for (const d of ["bin", "services", "systemd", "examples"]) mkdirSync(join(stage, d), { recursive: true });
writeFileSync(join(stage, "package.json"), `${JSON.stringify(manifest, null, 2)}\n`);
copyFileSync(join(dist, "surplus-edge.mjs"), join(stage, "bin/surplus-edge.mjs"));
chmodSync(join(stage, "bin/surplus-edge.mjs"), 0o755);
for (const s of SERVICES)
  copyFileSync(join(edge, "build", `${s}.wasm`), join(stage, "services", `${s}.wasm`));
copyFileSync(join(edge, "packaging/surplus-edge.service"), join(stage, "systemd/surplus-edge.service"));
copyFileSync(join(edge, "packaging/supplier.example.json"), join(stage, "examples/supplier.json"));
copyFileSync(join(edge, "README.md"), join(stage, "README.md"));

const out = execFileSync("npm", ["pack", "--json", "--pack-destination", dist], {
  cwd: stage,
  encoding: "utf8",
  stdio: ["ignore", "pipe", "inherit"],
});
const [packed] = JSON.parse(out) as Array<{ filename: string; size: number; entryCount: number }>;
const file = join(dist, packed!.filename);
process.stderr.write(
  `[edge] packed ${file} (${(packed!.size / 1024).toFixed(0)} KiB, ${packed!.entryCount} files)\n`,
);
// The last line on stdout is the tarball's path, for scripts and tests.
process.stdout.write(`${file}\n`);
