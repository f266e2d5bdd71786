// Builds the market's app the way `cdk synth` does (cdk.json's context plus overrides), once per
// test file, and gives its templates to the assertions, cdk-nag and cfn-lint.
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { App } from "aws-cdk-lib";
import { Template } from "aws-cdk-lib/assertions";
import { addSurplusStacks, type SurplusStacks } from "../../src/surplus-app.ts";

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

/** Handler entries for the tests: small fixtures that stand in for lambdas/<name>/handler.ts. */
export const TEST_ENTRIES = {
  allocator: join(ROOT, "infra/test/fixtures/allocator-handler.ts"),
  verifierBridge: join(ROOT, "infra/test/fixtures/verifier-bridge-handler.ts"),
} as const;

/** The context `cdk.json` gives the app. */
export function cdkJsonContext(): Record<string, unknown> {
  const cdkJson = JSON.parse(readFileSync(join(ROOT, "cdk.json"), "utf8")) as {
    context?: Record<string, unknown>;
  };
  return { ...cdkJson.context };
}

/** Context for a self-hosted Pulsar (placeholder certificate and name; nothing is deployed). */
export const SELF_HOSTED_CONTEXT = {
  "surplus:pulsarMode": "self-hosted",
  "surplus:pulsarDomainName": "pulsar.city.example",
  "surplus:pulsarCertificateArn":
    "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-aaaa-bbbb-cccc-123456789abc",
  "surplus:pulsarCpu": 2048,
  "surplus:pulsarMemoryMiB": 8192,
} as const;

export interface BuiltApp {
  readonly app: App;
  readonly stacks: SurplusStacks;
  readonly templates: {
    readonly messaging: Template;
    readonly registries: Template;
    readonly functions: Template;
    readonly console: Template;
  };
  /** Folder the cloud assembly was written to. */
  readonly outdir: string;
}

/** Builds and synthesizes the app with cdk.json's context, the test entries and `overrides`. */
export function buildApp(overrides: Record<string, unknown> = {}, options: { nag?: boolean } = {}): BuiltApp {
  const outdir = mkdtempSync(join(tmpdir(), "surplus-cdk-"));
  const app = new App({
    outdir,
    context: {
      ...cdkJsonContext(),
      "surplus:allocatorEntry": TEST_ENTRIES.allocator,
      "surplus:verifierBridgeEntry": TEST_ENTRIES.verifierBridge,
      ...overrides,
    },
  });
  const stacks = addSurplusStacks(app, { nag: options.nag ?? false, baseDir: ROOT });
  app.synth();
  return {
    app,
    stacks,
    outdir,
    templates: {
      messaging: Template.fromStack(stacks.messaging),
      registries: Template.fromStack(stacks.registries),
      functions: Template.fromStack(stacks.functions),
      console: Template.fromStack(stacks.console),
    },
  };
}

/** A template as JSON with asset hashes replaced, for snapshots that do not churn on every code change. */
export function withoutAssetHashes(template: Template): unknown {
  const json = JSON.stringify(template.toJSON());
  return JSON.parse(json.replace(/[0-9a-f]{64}(\.zip|\.json)?/g, "[asset hash]$1"));
}
