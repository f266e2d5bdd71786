// The boundary check: relative imports that leave their top-level package are reported, those
// that stay inside it (however deep) are not.
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { deepImports, missingExports } from "../check-boundaries.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const at = (path: string) => join(ROOT, path);

describe("deepImports", () => {
  it("reports static, type-only, re-exported and dynamic imports into another package", () => {
    const source = [
      'import { runBridge } from "../../lambdas/verifier-bridge/bridge.ts";',
      'import type { X } from "../../../core/src/types.ts";',
      'export * from "../../adapters/src/pulsar/index.ts";',
      // Split so that this test file does not itself hold a dynamic import of that path.
      `const m = await import(${'"../../localstack/src/pulsar.ts"'});`,
    ].join("\n");
    const found = deepImports(at("bench/src/x.ts"), source);
    expect(found).toHaveLength(4);
    expect(found[0]).toMatch(/^bench\/src\/x\.ts:1: .* reaches into lambdas\/$/);
    expect(found[3]).toMatch(/:4: .*reaches into localstack\/$/);
    // One folder deeper the same `../../` paths stay inside bench/; only ../../../core leaves it.
    const deeper = deepImports(at("bench/src/sub/x.ts"), source);
    expect(deeper).toHaveLength(1);
    expect(deeper[0]).toMatch(/:2: .*reaches into core\/$/);
  });

  it("allows relative imports within the package, even into its tests", () => {
    const source = [
      'import { a } from "./a.ts";',
      'import { b } from "../support/b.ts";',
      'import { c } from "../../test/support/fixture.ts";',
      'import { d } from "@surplus/core";',
    ].join("\n");
    expect(deepImports(at("contracts/src/deep/x.ts"), source)).toEqual([]);
  });

  it("names the package a test folder reaches into, not the folder's name", () => {
    // From edge/test/, ../../test/ is the root's `test` package (the end-to-end tests).
    expect(deepImports(at("edge/test/x.ts"), 'import { y } from "../../test/test/y.ts";')).toHaveLength(1);
  });

  it("follows a multi-line import to its closing line, and ignores paths that are only text", () => {
    const source = [
      "import {",
      "  a,",
      "  b,",
      '} from "../../core/src/a.ts";',
      'const s = "from ../../core";',
    ].join("\n");
    expect(deepImports(at("edge/src/x.ts"), source)).toEqual([
      'edge/src/x.ts:4: "../../core/src/a.ts" reaches into core/',
    ]);
  });
});

describe("missingExports", () => {
  it("names export targets that do not exist, patterns by their folder", () => {
    const dir = at("operator");
    expect(
      missingExports(dir, {
        ".": "./src/index.ts",
        "./gone": "./lib/index.ts",
        "./test-support/*": "./test/support/*.ts",
        "./nowhere/*": "./nowhere/*.ts",
      }),
    ).toEqual([
      "operator/package.json: export ./lib/index.ts does not exist",
      "operator/package.json: export ./nowhere/*.ts does not exist",
    ]);
  });
});
