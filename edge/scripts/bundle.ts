// Bundles the edge runtime into one self-contained JavaScript file (no native addons), runnable
// with any Node >= 22: edge/dist/surplus-edge.mjs.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type Plugin } from "esbuild";

const edge = join(dirname(fileURLToPath(import.meta.url)), "..");
const outfile = join(edge, "dist/surplus-edge.mjs");
/**
 * zod's `z` namespace re-exports its error messages in ~50 languages (`z.locales`), so importing
 * `z` bundles them all (~250 KiB) and evaluates them at startup: ~2.5 MB more resident memory for
 * the runtime's lifetime. The runtime never switches zod's language (English is its default, set
 * by zod itself), so the bundle keeps English only; `z.locales` then holds just `en`. The same
 * practice as dropping moment's locales from a web bundle.
 */
const zodEnglishOnly: Plugin = {
  name: "zod-english-only",
  setup(b) {
    b.onLoad({ filter: /[\\/]zod[\\/]v4[\\/]locales[\\/]index\.js$/ }, (args) => ({
      contents: 'export { default as en } from "./en.js";',
      resolveDir: dirname(args.path),
    }));
  },
};

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
  plugins: [zodEnglishOnly],
  logLevel: "warning",
});
const bytes = Object.values(result.metafile.outputs).reduce((n, o) => n + o.bytes, 0);
process.stderr.write(`[edge] bundled ${outfile} (${(bytes / 1024).toFixed(0)} KiB)\n`);
