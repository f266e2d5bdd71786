// The checks CI runs on every synthesized template: cdk-nag's AwsSolutions pack (no finding left
// unacknowledged, every acknowledgment with its reason) and cfn-lint (no error).
import { execFile } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { beforeAll, describe, expect, it } from "vitest";
import { type BuiltApp, buildApp, ROOT, SELF_HOSTED_CONTEXT } from "./support/app.ts";

const CONFIGS = {
  "managed Pulsar": {},
  "self-hosted Pulsar, alarm email": { ...SELF_HOSTED_CONTEXT, "surplus:alarmEmail": "ops@city.example" },
} as const;
type ConfigName = keyof typeof CONFIGS;

/** Every AwsSolutions acknowledgment in the app: `path rule` → reason. */
function acknowledgments(built: BuiltApp): Map<string, string> {
  const found = new Map<string, string>();
  for (const construct of built.app.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [rule, reason] of Object.entries(entry.data as Record<string, string>)) {
        if (rule.startsWith("Annotation::AwsSolutions-")) {
          found.set(`${construct.node.path} ${rule.slice("Annotation::".length)}`, reason);
        }
      }
    }
  }
  return found;
}

/** CDK's asset-copying function of the console's deployment (console-stack.ts says why). */
const COPIER = "surplus-console/Custom::CDKBucketDeployment8693BB64968944B69AAFB0CC9EB8756C";
const CONSOLE_ACKNOWLEDGMENTS = [
  "surplus-console/AssetLogs AwsSolutions-S1",
  "surplus-console/CdnLogs AwsSolutions-S1",
  "surplus-console/Distribution AwsSolutions-CFR1",
  "surplus-console/Distribution AwsSolutions-CFR2",
  "surplus-console/Distribution AwsSolutions-CFR4",
  `${COPIER} AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]`,
  ...[
    "Action::s3:GetBucket*",
    "Action::s3:GetObject*",
    "Action::s3:List*",
    "Action::s3:Abort*",
    "Action::s3:DeleteObject*",
    "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
    "Resource::<Assets9A31D427.Arn>/*",
    "Resource::*",
  ].map((finding) => `${COPIER} AwsSolutions-IAM5[${finding}]`),
  `${COPIER} AwsSolutions-L1`,
];

const MANAGED_ACKNOWLEDGMENTS = [
  ...CONSOLE_ACKNOWLEDGMENTS,
  "surplus-functions/Allocator/DeadLetters AwsSolutions-SQS3",
  "surplus-functions/SignerKey AwsSolutions-SMG4",
  "surplus-functions/VerifierBridge/DeadLetters AwsSolutions-SQS3",
  "surplus-messaging/Pulsar/AdminToken AwsSolutions-SMG4",
];

const EXPECTED_ACKNOWLEDGMENTS: Record<ConfigName, string[]> = {
  "managed Pulsar": MANAGED_ACKNOWLEDGMENTS,
  "self-hosted Pulsar, alarm email": [
    ...MANAGED_ACKNOWLEDGMENTS,
    "surplus-messaging/Pulsar/LoadBalancer AwsSolutions-ELB2",
    "surplus-messaging/Pulsar/LoadBalancerSecurityGroup AwsSolutions-EC23",
    "surplus-messaging/Pulsar/TokenSigningKey AwsSolutions-SMG4",
  ],
};

/**
 * cfn-lint findings allowed in the templates, each with why. W3005 ("dependency already
 * enforced"): CDK adds an explicit DependsOn from a function to its role's policy and from an ECS
 * service to its listeners, which CloudFormation needs to order the policy before the first
 * invocation / the listener before the service, though a GetAtt already implies part of it.
 */
const ALLOWED_CFN_LINT = new Set(["W3005"]);

interface CfnLintFinding {
  readonly Rule: { readonly Id: string };
  readonly Level: string;
  readonly Message: string;
  readonly Filename: string;
}

describe.each(Object.keys(CONFIGS) as ConfigName[])("%s", (config) => {
  let built: BuiltApp;

  beforeAll(() => {
    built = buildApp(CONFIGS[config]);
  }, 180_000);

  describe("cdk-nag AwsSolutions", () => {
    it("reports no unacknowledged finding", () => {
      const report = new AwsSolutionsChecks().validateScope(built.app);
      const findings = report.violations.flatMap((v) =>
        v.violatingResources.map(
          (r) => `${v.ruleName} at ${r.constructPath ?? r.resourceLogicalId}: ${v.description}`,
        ),
      );
      expect(findings).toEqual([]);
      expect(report.success).toBe(true);
    });

    it("acknowledges exactly the reviewed rules, each with a reason", () => {
      const found = acknowledgments(built);
      expect([...found.keys()].sort()).toEqual([...EXPECTED_ACKNOWLEDGMENTS[config]].sort());
      for (const [where, reason] of found) expect(reason.length, where).toBeGreaterThan(40);
    });
  });

  describe("cfn-lint", () => {
    it("finds no error in any synthesized template", async () => {
      const { stdout: bin } = await promisify(execFile)(join(ROOT, "infra/scripts/ensure-python-tools.sh"));
      const templates = readdirSync(built.outdir)
        .filter((f) => f.endsWith(".template.json"))
        .map((f) => join(built.outdir, f));
      expect(templates).toHaveLength(4);
      // cfn-lint exits non-zero when it finds anything; the JSON on stdout says what.
      const output = await promisify(execFile)(
        join(bin.trim(), "cfn-lint"),
        ["--format", "json", ...templates],
        {
          maxBuffer: 16 << 20,
        },
      ).then(
        (r) => r.stdout,
        (err: { stdout?: string; code?: number }) => {
          if (typeof err.stdout !== "string" || err.stdout === "") throw err;
          return err.stdout;
        },
      );
      const findings = JSON.parse(output) as CfnLintFinding[];
      const unexpected = findings
        .filter((f) => f.Level === "Error" || !ALLOWED_CFN_LINT.has(f.Rule.Id))
        .map((f) => `${f.Level} ${f.Rule.Id} ${f.Filename.split("/").pop()}: ${f.Message}`);
      expect(unexpected).toEqual([]);
    }, 300_000);
  });
});
