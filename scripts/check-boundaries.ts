// Package boundaries, enforced (npm run lint): a relative import must stay inside its own top-level
// package; another package is reached through its name and `exports` (`@surplus/core`,
// `@surplus/contracts/test-support`, …), never by `../../other/src/file.ts`; and every workspace's
// `exports` point at files that exist. Exits 1 listing each problem. `node scripts/check-boundaries.ts FILE…` checks only those files.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";

const ROOT = resolve(import.meta.dirname, "..");

/**
 * Relative specifiers: of a statement that begins the line (`import … from`, `export … from`, the
 * `} from` closing a multi-line one, a bare `import "…"`), and of `import(…)` and `require(…)`.
 */
const SPECIFIERS = [
  /^\s*(?:import|export)\b[^"'`]*?\bfrom\s*["'](\.\.?\/[^"']*)["']/g,
  /^\s*\}\s*from\s*["'](\.\.?\/[^"']*)["']/g,
  /^\s*import\s*["'](\.\.?\/[^"']*)["']/g,
  /\b(?:import|require)\s*\(\s*["'](\.\.?\/[^"']*)["']/g,
];

/** The top-level folder a path belongs to ("" for files at the root). */
const packageOf = (path: string) => {
  const rel = relative(ROOT, path);
  return rel.includes(sep) ? rel.slice(0, rel.indexOf(sep)) : "";
};

export function deepImports(file: string, source: string): string[] {
  const own = packageOf(file);
  const found: string[] = [];
  for (const [line, text] of source.split("\n").entries())
    for (const m of SPECIFIERS.flatMap((re) => [...text.matchAll(re)])) {
      const target = resolve(dirname(file), m[1]!);
      if (packageOf(target) !== own)
        found.push(
          `${relative(ROOT, file)}:${line + 1}: "${m[1]}" reaches into ${packageOf(target) || "the root"}/`,
        );
    }
  return found;
}

/** Export targets of `pkg/package.json` that do not exist (a `*` pattern needs its folder). */
export function missingExports(pkgDir: string, exports: unknown): string[] {
  const targets =
    typeof exports === "string" ? [exports] : Object.values((exports ?? {}) as Record<string, unknown>);
  return targets
    .filter((t): t is string => typeof t === "string")
    .filter((t) => !existsSync(join(pkgDir, t.includes("*") ? dirname(t.slice(0, t.indexOf("*")) + "x") : t)))
    .map((t) => `${relative(ROOT, join(pkgDir, "package.json"))}: export ${t} does not exist`);
}

function workspaceExports(): string[] {
  const root = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as { workspaces: string[] };
  return root.workspaces.flatMap((w) => {
    const dir = join(ROOT, w);
    return missingExports(dir, JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).exports);
  });
}

function sources(): string[] {
  const listed = execFileSync("git", ["ls-files", "--cached", "--others", "--exclude-standard", "-z"], {
    cwd: ROOT,
    encoding: "utf8",
  });
  return listed
    .split("\0")
    .filter((f) => /\.(ts|mts|cts|js|mjs|cjs)$/.test(f) && !/(^|\/)node_modules\//.test(f))
    .map((f) => join(ROOT, f));
}

if (import.meta.main) {
  const files = process.argv.length > 2 ? process.argv.slice(2).map((f) => resolve(f)) : sources();
  const found = files.flatMap((f) => {
    try {
      return deepImports(f, readFileSync(f, "utf8"));
    } catch {
      return []; // listed by git but deleted in the working tree
    }
  });
  if (process.argv.length <= 2) found.push(...workspaceExports());
  for (const f of found) console.error(f);
  if (found.length) {
    console.error(
      `\n${found.length} import(s) cross a package boundary by path: import the package instead.`,
    );
    process.exit(1);
  }
}
