// Bundles the edge runtime into one self-contained JavaScript file (no native addons), runnable
// with any Node >= 22: edge/dist/surplus-edge.mjs.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const edge = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(edge, "dist/surplus-edge.mjs");
const result = await build({
  entryPoints: [join(edge, "bin/surplus-edge.ts")],
  outfile,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node22",
  minify: true,
  sourcemap: false,
  metafile: true,
  legalComments: "none",
  // Some dependencies are CommonJS that call require(): give the ESM bundle one.
  banner: {
    js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);",
  },
  logLevel: "warning",
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stderr.write(`[edge] bundled ${outfile} (${(bytes / 1024).toFixed(0)} KiB)\n`);
