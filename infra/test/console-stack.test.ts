// The deployed market console (issue 17): the page from the one source on S3 behind CloudFront
// (origin access control, HTTPS, access logs), and a read-only API behind a function URL with IAM
// auth that may read three registries and nothing else.
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { App } from "aws-cdk-lib";
import { Match, type Template } from "aws-cdk-lib/assertions";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { CONSOLE_SOURCES } from "../src/stacks/console-stack.ts";
import { addSurplusStacks } from "../src/surplus-app.ts";
import { type BuiltApp, buildApp, cdkJsonContext, ROOT, TEST_ENTRIES } from "./support/app.ts";

describe("the console stack", () => {
  let built: BuiltApp;
  let t: Template;
  beforeAll(() => {
    built = buildApp();
    t = built.templates.console;
  }, 180_000);

  it("puts the API behind a function URL that needs a signed (IAM) request", () => {
    t.resourceCountIs("AWS::Lambda::Url", 1);
    t.hasResourceProperties("AWS::Lambda::Url", {
      AuthType: "AWS_IAM",
      Cors: Match.objectLike({ AllowMethods: ["GET"] }),
    });
    // Nobody is granted it by a resource policy: only principals the readers' policy is attached to.
    t.resourceCountIs("AWS::Lambda::Permission", 0);
    t.hasResourceProperties("AWS::IAM::ManagedPolicy", {
      PolicyDocument: {
        Statement: [
          Match.objectLike({
            Action: "lambda:InvokeFunctionUrl",
            Condition: { StringEquals: { "lambda:FunctionUrlAuthType": "AWS_IAM" } },
          }),
        ],
      },
    });
    t.hasOutput("ConsoleUrl", Match.anyValue());
  });

  it("lets the API read, never write, the registries", () => {
    const policies = Object.values(t.findResources("AWS::IAM::Policy")).filter((p) =>
      JSON.stringify(p).includes("dynamodb:"),
    );
    expect(policies).toHaveLength(1);
    const actions = (
      policies[0]!["Properties"].PolicyDocument.Statement as Array<{ Action: string | string[] }>
    )
      .flatMap((s) => s.Action)
      .filter((a) => a.startsWith("dynamodb:"));
    expect(actions.sort()).toEqual([
      "dynamodb:BatchGetItem",
      "dynamodb:GetItem",
      "dynamodb:Query",
      "dynamodb:Scan",
    ]);
    t.hasResourceProperties("AWS::Lambda::Function", {
      Environment: { Variables: Match.objectLike({ SURPLUS_TABLE_PREFIX: "surplus-" }) },
    });
  });

  it("serves the page from S3 through CloudFront with origin access control, HTTPS and logs", () => {
    t.hasResourceProperties("AWS::CloudFront::Distribution", {
      DistributionConfig: Match.objectLike({
        DefaultRootObject: "index.html",
        DefaultCacheBehavior: Match.objectLike({ ViewerProtocolPolicy: "redirect-to-https" }),
        Logging: Match.objectLike({ Prefix: "cloudfront/" }),
        Origins: [Match.objectLike({ OriginAccessControlId: Match.anyValue() })],
      }),
    });
    t.resourceCountIs("AWS::CloudFront::OriginAccessControl", 1);
    t.allResourcesProperties("AWS::S3::Bucket", {
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
  });

  it("copies the local console's own files (one source) and Chart.js into the bucket", () => {
    t.resourceCountIs("Custom::CDKBucketDeployment", 1);
    const deployment = Object.values(t.findResources("Custom::CDKBucketDeployment"))[0]!;
    // The page, Chart.js, and console-config.json naming this stack's API (the page signs for it only).
    expect(deployment["Properties"].SourceObjectKeys).toHaveLength(3);
    expect(JSON.stringify(deployment["Properties"].SourceMarkers ?? [])).toContain("ApiFunctionUrl");
    // The staged page is the folder ./surplus market serves, file for file.
    const staged = readdirSync(built.outdir)
      .map((d) => join(built.outdir, d))
      .find((d) => existsSync(join(d, "index.html")));
    expect(staged).toBeDefined();
    expect(readdirSync(staged!).sort()).toEqual(readdirSync(CONSOLE_SOURCES.static).sort());
    for (const f of readdirSync(CONSOLE_SOURCES.static))
      expect(readFileSync(join(staged!, f), "utf8")).toBe(
        readFileSync(join(CONSOLE_SOURCES.static, f), "utf8"),
      );
  });

  it("stays cdk-nag clean with a concrete account and region (the copier's findings name them)", () => {
    const app = new App({
      context: {
        ...cdkJsonContext(),
        "surplus:allocatorEntry": TEST_ENTRIES.allocator,
        "surplus:verifierBridgeEntry": TEST_ENTRIES.verifierBridge,
      },
    });
    addSurplusStacks(app, {
      nag: false,
      baseDir: ROOT,
      env: { account: "123456789012", region: "eu-west-1" },
    });
    const report = new AwsSolutionsChecks().validateScope(app);
    expect(
      report.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath}`)),
    ).toEqual([]);
  }, 120_000);
});
