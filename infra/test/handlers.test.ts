// The stacks' default entries are the real handlers in lambdas/: they bundle with the local
// esbuild into ESM for nodejs24.x, and the bundle loads under Node 24 and exports `handler`.
// (Running a handler needs the market's services; the lambdas' and end-to-end tests do that.)
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import type { CfnFunction } from "aws-cdk-lib/aws-lambda";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_ENTRIES } from "../src/stacks/market-functions-stack.ts";
import { type BuiltApp, buildApp } from "./support/app.ts";

/** What the handlers read at module scope; nothing listens on these addresses. */
const HANDLER_ENV = {
  SURPLUS_CHAIN_ID: "11155111",
  SURPLUS_MARKET_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  SURPLUS_CHAIN_RPC_URL: "http://127.0.0.1:9",
  SURPLUS_PULSAR_URL: "http://127.0.0.1:9",
  // Hardhat's well-known second account: a throw-away key.
  SURPLUS_ALLOCATOR_KEY: "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
  AWS_REGION: "us-east-1",
};

describe("the default handler entries", () => {
  let built: BuiltApp;

  beforeAll(() => {
    // No entry overrides: the stacks bundle lambdas/allocator/handler.ts and lambdas/verifier-bridge/handler.ts.
    built = buildApp({ "surplus:allocatorEntry": undefined, "surplus:verifierBridgeEntry": undefined });
  }, 180_000);

  it("are the handlers in lambdas/", () => {
    expect(DEFAULT_ENTRIES.allocator).toMatch(/lambdas\/allocator\/handler\.ts$/);
    expect(DEFAULT_ENTRIES.verifierBridge).toMatch(/lambdas\/verifier-bridge\/handler\.ts$/);
    expect(existsSync(DEFAULT_ENTRIES.allocator)).toBe(true);
    expect(existsSync(DEFAULT_ENTRIES.verifierBridge)).toBe(true);
  });

  it.each(["allocator", "verifierBridge"] as const)(
    "%s: bundles to an ESM file that loads under Node 24 and exports handler",
    async (which) => {
      const fn = built.stacks.functions[which].function;
      const cfn = fn.node.defaultChild as CfnFunction;
      const id = built.stacks.functions.getLogicalId(cfn);
      const resource = built.templates.functions.toJSON()["Resources"][id];
      // The code's S3 key is the asset hash; the assembly holds the bundle in asset.<hash>/.
      const hash = String(resource.Properties.Code.S3Key).replace(/\.zip$/, "");
      const bundle = join(built.outdir, `asset.${hash}`, "index.mjs");
      expect(existsSync(bundle)).toBe(true);
      const { stdout } = await promisify(execFile)(
        process.execPath,
        [
          "--input-type=module",
          "-e",
          `const m = await import(${JSON.stringify(bundle)}); console.log(typeof m.handler); process.exit(0);`,
        ],
        { env: { PATH: process.env["PATH"] ?? "", ...HANDLER_ENV }, timeout: 60_000 },
      );
      expect(stdout.trim()).toBe("function");
    },
    90_000,
  );
});
