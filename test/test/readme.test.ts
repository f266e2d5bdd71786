// The README is what a newcomer trusts first: every `./surplus` command it shows must name a
// subcommand, bench, npm script or file that exists, and every repository path it names in
// backticks must exist. (CI runs its two main commands themselves: .ci/run.)
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const scripts = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).scripts as Record<
  string,
  string
>;
const launcher = readFileSync(join(ROOT, "surplus"), "utf8");
/** The subcommands `./surplus` dispatches (its `case` arms). */
const subcommands = new Set(
  [...launcher.matchAll(/^ {2}([a-z|-]+)\)/gm)].flatMap((m) => m[1]!.split("|")).filter((s) => s !== "*"),
);
const commands = [...readme.matchAll(/^\s*(?:\.\/surplus|bash surplus)\s+(.*)$/gm)].map((m) =>
  m[1]!.replace(/\s+#.*$/, "").trim(),
);

describe("README.md", () => {
  it("shows commands, and the launcher knows each one", () => {
    expect(commands.length).toBeGreaterThan(5);
    for (const c of commands) expect(subcommands, c).toContain(c.split(/\s+/)[0]);
  });

  it("names only benches, npm scripts and files that exist", () => {
    for (const c of commands) {
      const [sub, first, second] = c.split(/\s+/);
      if (sub === "bench") expect(scripts, c).toHaveProperty([`bench:${first}`]);
      if (sub === "npm" && first === "run") {
        // `-w @surplus/<pkg>` runs the script of that workspace package.
        const workspace = /-w @surplus\/(\S+)/.exec(c)?.[1];
        const own = workspace
          ? JSON.parse(readFileSync(join(ROOT, workspace, "package.json"), "utf8")).scripts
          : scripts;
        expect(own, c).toHaveProperty([second!]);
      }
      if (sub === "node") expect(existsSync(join(ROOT, first!)), c).toBe(true);
    }
  });

  it("names only repository paths that exist", () => {
    const folders = "core|contracts|adapters|lambdas|edge|infra|localstack|test|bench|experiments";
    const paths = [...readme.matchAll(new RegExp(`\`((?:${folders})/[^\`\\s<>*…]+)\``, "g"))].map(
      (m) => m[1]!,
    );
    expect(paths.length).toBeGreaterThan(10);
    const missing = paths.filter((p) => !existsSync(join(ROOT, p.split(":")[0]!)));
    expect(missing).toEqual([]);
  });
});
