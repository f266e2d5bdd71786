import { TABLES, tableDefinitions, tableNames } from "@surplus/adapters/dynamodb";
import { App, Duration } from "aws-cdk-lib";
import { Annotations, Match, type Template } from "aws-cdk-lib/assertions";
import type { CfnRole } from "aws-cdk-lib/aws-iam";
import { beforeAll, describe, expect, it } from "vitest";
import { MARKET_ENV } from "../src/environment.ts";
import { SurplusConfigError } from "../src/errors.ts";
import { addSurplusStacks } from "../src/surplus-app.ts";
import {
  type BuiltApp,
  buildApp,
  cdkJsonContext,
  SELF_HOSTED_CONTEXT,
  TEST_ENTRIES,
  withoutAssetHashes,
} from "./support/app.ts";

type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

/** The statements of the default policy attached to a function's role. */
function policyOf(built: BuiltApp, which: "allocator" | "verifierBridge"): Statement[] {
  const fn = built.stacks.functions[which];
  const roleId = built.stacks.functions.getLogicalId(fn.role.node.defaultChild as CfnRole);
  const policies = built.templates.functions.findResources("AWS::IAM::Policy", {
    Properties: { Roles: [{ Ref: roleId }] },
  });
  const statements = Object.values(policies).flatMap(
    (p) =>
      (p as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument
        .Statement,
  );
  expect(statements.length).toBeGreaterThan(0);
  return statements;
}

function actions(statements: Statement[]): string[] {
  return statements.flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));
}

/** Statements whose resources mention `needle` (an export or logical id). */
function mentioning(statements: Statement[], needle: string): Statement[] {
  return statements.filter((s) => JSON.stringify(s.Resource).includes(needle));
}

function exportOf(built: BuiltApp, registry: (typeof TABLES)[number]): string {
  return built.stacks.registries.getLogicalId(
    built.stacks.registries.registries.tables[registry].table.node.defaultChild as never,
  );
}

describe("the market's stacks (managed Pulsar, cdk.json's context)", () => {
  let built: BuiltApp;
  let registries: Template;
  let functions: Template;
  let messaging: Template;

  beforeAll(() => {
    built = buildApp();
    ({ registries, functions, messaging } = built.templates);
  }, 120_000);

  describe("registries", () => {
    it("creates the adapters' tables (same names, keys, attributes and indexes), on demand", () => {
      registries.resourceCountIs("AWS::DynamoDB::Table", TABLES.length);
      // The one definition the handlers and the local endpoint (moto) use, with the market's prefix.
      for (const request of tableDefinitions(tableNames("surplus-"))) {
        const sortByName = <T extends { AttributeName?: string; IndexName?: string }>(xs: T[] | undefined) =>
          [...(xs ?? [])].sort((a, b) =>
            (a.AttributeName ?? a.IndexName ?? "").localeCompare(b.AttributeName ?? b.IndexName ?? ""),
          );
        const [table] = Object.values(
          registries.findResources("AWS::DynamoDB::Table", { Properties: { TableName: request.TableName } }),
        );
        expect(table, `table ${request.TableName}`).toBeDefined();
        const props = table!["Properties"];
        expect(props.BillingMode).toBe("PAY_PER_REQUEST");
        expect(props.KeySchema).toEqual(request.KeySchema);
        expect(sortByName(props.AttributeDefinitions)).toEqual(sortByName(request.AttributeDefinitions));
        expect(sortByName(props.GlobalSecondaryIndexes ?? [])).toEqual(
          sortByName(request.GlobalSecondaryIndexes ?? []).map((gsi) => ({
            IndexName: gsi.IndexName,
            KeySchema: gsi.KeySchema,
            Projection: gsi.Projection,
          })),
        );
      }
    });

    it("encrypts every table with the registries' customer-managed key, which rotates", () => {
      const keys = registries.findResources("AWS::KMS::Key");
      const [keyId, ...others] = Object.keys(keys);
      expect(others).toEqual([]);
      registries.hasResourceProperties("AWS::KMS::Key", { EnableKeyRotation: true });
      const tables = registries.findResources("AWS::DynamoDB::Table");
      for (const table of Object.values(tables)) {
        expect(table["Properties"].SSESpecification).toEqual({
          SSEEnabled: true,
          SSEType: "KMS",
          KMSMasterKeyId: { "Fn::GetAtt": [keyId, "Arn"] },
        });
      }
    });

    it("turns point-in-time recovery on for every table (35 days)", () => {
      const tables = Object.values(registries.findResources("AWS::DynamoDB::Table"));
      for (const table of tables) {
        expect(table["Properties"].PointInTimeRecoverySpecification).toEqual({
          PointInTimeRecoveryEnabled: true,
          RecoveryPeriodInDays: 35,
        });
      }
    });

    it("sets TTL only where records expire (idempotency)", () => {
      const withTtl = Object.values(registries.findResources("AWS::DynamoDB::Table"))
        .map((t) => t["Properties"].TimeToLiveSpecification)
        .filter(Boolean);
      expect(withTtl).toEqual([{ AttributeName: "expiration", Enabled: true }]);
    });

    it("retains tables and key by default, with deletion protection", () => {
      for (const table of Object.values(registries.findResources("AWS::DynamoDB::Table"))) {
        expect(table["DeletionPolicy"]).toBe("Retain");
        expect(table["Properties"].DeletionProtectionEnabled).toBe(true);
      }
      for (const key of Object.values(registries.findResources("AWS::KMS::Key"))) {
        expect(key["DeletionPolicy"]).toBe("Retain");
      }
    });
  });

  describe("market functions", () => {
    it("runs both handlers on nodejs24.x, ARM64, with the Powertools environment", () => {
      functions.resourceCountIs("AWS::Lambda::Function", 2);
      for (const service of ["allocator", "verifier-bridge"]) {
        functions.hasResourceProperties("AWS::Lambda::Function", {
          Runtime: "nodejs24.x",
          Architectures: ["arm64"],
          Handler: "index.handler",
          LoggingConfig: { LogFormat: "JSON" },
          Environment: {
            Variables: Match.objectLike({
              POWERTOOLS_SERVICE_NAME: service,
              POWERTOOLS_METRICS_NAMESPACE: "Surplus",
              POWERTOOLS_LOG_LEVEL: "INFO",
              LOG_LEVEL: "INFO",
              [MARKET_ENV.tablePrefix]: "surplus-",
              [MARKET_ENV.chainId]: "11155111",
              [MARKET_ENV.pulsarUrl]: cdkJsonContext()["surplus:pulsarAdminUrl"],
              [MARKET_ENV.pulsarServiceUrl]: cdkJsonContext()["surplus:pulsarServiceUrl"],
              [MARKET_ENV.marketAddress]: { Ref: Match.stringLikeRegexp("^SsmParameterValue") },
              [MARKET_ENV.chainRpcUrl]: { Ref: Match.stringLikeRegexp("^SsmParameterValue") },
            }),
          },
        });
      }
    });

    it("gives the allocator a δ_alloc of 20 s: accepts are read every second, not a minute later", () => {
      functions.hasResourceProperties("AWS::Lambda::Function", {
        Environment: {
          Variables: Match.objectLike({
            POWERTOOLS_SERVICE_NAME: "allocator",
            [MARKET_ENV.allocSeconds]: "20",
          }),
        },
      });
      functions.hasResourceProperties("AWS::Lambda::Function", {
        Environment: {
          Variables: Match.objectLike({
            POWERTOOLS_SERVICE_NAME: "verifier-bridge",
            [MARKET_ENV.allocSeconds]: Match.absent(),
          }),
        },
      });
    });

    it("runs rounds every second (bridge passes every ½ s) for the schedule's minute, with time for the slot and its margin", () => {
      for (const fn of Object.values(functions.findResources("AWS::Lambda::Function"))) {
        const p = fn["Properties"];
        const bridge = p.Environment.Variables.POWERTOOLS_SERVICE_NAME === "verifier-bridge";
        expect(p.Environment.Variables).toMatchObject({
          // The bridge twice as often: an opened allocation is announced Running sooner.
          [MARKET_ENV.roundIntervalMs]: bridge ? "500" : "1000",
          [MARKET_ENV.schedulePeriodSeconds]: "60",
          [MARKET_ENV.stopMarginMs]: "10000",
        });
        // The period, then the stop margin before the timeout: the slot is used to its end.
        expect(p.Timeout).toBe(75);
        expect(p.Timeout * 1000).toBeGreaterThanOrEqual(60_000 + 10_000);
        // One at a time is the lease's job: no reserved concurrency (new accounts cannot reserve).
        expect(p.ReservedConcurrentExecutions).toBeUndefined();
      }
    });

    it("gives each function an encrypted dead-letter queue and does not retry failed ticks", () => {
      functions.resourceCountIs("AWS::SQS::Queue", 2);
      functions.allResourcesProperties("AWS::SQS::Queue", {
        SqsManagedSseEnabled: true,
        MessageRetentionPeriod: Duration.days(14).toSeconds(),
      });
      for (const fn of Object.values(functions.findResources("AWS::Lambda::Function"))) {
        expect(fn["Properties"].DeadLetterConfig.TargetArn["Fn::GetAtt"][1]).toBe("Arn");
      }
      functions.allResourcesProperties("AWS::Lambda::EventInvokeConfig", {
        MaximumRetryAttempts: 0,
        MaximumEventAgeInSeconds: 300,
      });
      // Queues refuse plain-HTTP access.
      functions.allResourcesProperties("AWS::SQS::QueuePolicy", {
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: "Deny", Condition: { Bool: { "aws:SecureTransport": "false" } } }),
          ]),
        },
      });
    });

    it("schedules each function every minute, with the rule's own dead-letter queue", () => {
      functions.resourceCountIs("AWS::Events::Rule", 2);
      functions.allResourcesProperties("AWS::Events::Rule", {
        ScheduleExpression: "rate(1 minute)",
        State: "ENABLED",
        Targets: [
          Match.objectLike({
            DeadLetterConfig: { Arn: Match.anyValue() },
            RetryPolicy: { MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 300 },
          }),
        ],
      });
    });

    it("alarms on errors, throttles and dead letters for each function", () => {
      functions.resourceCountIs("AWS::CloudWatch::Alarm", 6);
      for (const metric of ["Errors", "Throttles"]) {
        const alarms = functions.findResources("AWS::CloudWatch::Alarm", {
          Properties: { MetricName: metric, Namespace: "AWS/Lambda", Threshold: 1 },
        });
        expect(Object.keys(alarms)).toHaveLength(2);
      }
      const dlq = functions.findResources("AWS::CloudWatch::Alarm", {
        Properties: { MetricName: "ApproximateNumberOfMessagesVisible", Namespace: "AWS/SQS" },
      });
      expect(Object.keys(dlq)).toHaveLength(2);
    });

    it("names no wildcard resource and grants no Scan, no table-wide index access", () => {
      for (const which of ["allocator", "verifierBridge"] as const) {
        const statements = policyOf(built, which);
        for (const s of statements) expect(JSON.stringify(s.Resource)).not.toMatch(/"\*"|index\/\*/);
        expect(actions(statements)).not.toContain("dynamodb:Scan");
        expect(actions(statements).some((a) => a.endsWith("*"))).toBe(false);
      }
    });

    it("lets only the allocator read the signing key and touch the offers table", () => {
      const signer = built.stacks.functions.getLogicalId(
        built.stacks.functions.signerSecret.node.defaultChild as never,
      );
      const allocator = policyOf(built, "allocator");
      const bridge = policyOf(built, "verifierBridge");
      expect(mentioning(allocator, signer).flatMap((s) => s.Action)).toEqual([
        "secretsmanager:DescribeSecret",
        "secretsmanager:GetSecretValue",
      ]);
      expect(mentioning(bridge, signer)).toEqual([]);
      expect(mentioning(allocator, exportOf(built, "offers")).length).toBeGreaterThan(0);
      expect(mentioning(bridge, exportOf(built, "offers"))).toEqual([]);
    });

    it("gives the verifier-bridge read-only access to participants", () => {
      const bridge = mentioning(policyOf(built, "verifierBridge"), exportOf(built, "participants"));
      expect(actions(bridge).sort()).toEqual([
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:Query",
      ]);
    });

    it("resolves the contract address and the RPC URL from SSM at deploy time", () => {
      for (const name of ["/surplus/surplus/chain/contract-address", "/surplus/surplus/chain/rpc-url"]) {
        functions.hasParameter("*", { Type: "AWS::SSM::Parameter::Value<String>", Default: name });
      }
    });

    it("reads the Pulsar token by its secret name, and nothing from SSM at run time", () => {
      for (const which of ["allocator", "verifierBridge"] as const) {
        const statements = policyOf(built, which);
        expect(actions(statements).filter((a) => a.startsWith("ssm:"))).toEqual([]);
        expect(JSON.stringify(statements)).toContain(":secret:surplus/surplus/pulsar-admin-token-??????");
      }
    });
  });

  describe("messaging (managed Pulsar)", () => {
    it("keeps the admin token in Secrets Manager and outputs the endpoint", () => {
      messaging.hasResourceProperties("AWS::SecretsManager::Secret", {
        Name: "surplus/surplus/pulsar-admin-token",
      });
      messaging.hasOutput("PulsarServiceUrl", { Value: cdkJsonContext()["surplus:pulsarServiceUrl"] });
      messaging.hasOutput("PulsarAdminUrl", { Value: cdkJsonContext()["surplus:pulsarAdminUrl"] });
      messaging.resourceCountIs("AWS::ECS::Service", 0);
    });
  });

  describe("snapshots (asset hashes stripped)", () => {
    it.each(["messaging", "registries", "functions"] as const)("%s", (stack) => {
      expect(withoutAssetHashes(built.templates[stack])).toMatchSnapshot();
    });
  });
});

describe("the messaging stack with a self-hosted Pulsar", () => {
  let messaging: Template;

  beforeAll(() => {
    messaging = buildApp({ ...SELF_HOSTED_CONTEXT, "surplus:alarmEmail": "ops@city.example" }).templates
      .messaging;
  }, 120_000);

  it("runs the broker on Fargate ARM64 sized by the context, one task at a time", () => {
    messaging.hasResourceProperties("AWS::ECS::TaskDefinition", {
      Cpu: "2048",
      Memory: "8192",
      RequiresCompatibilities: ["FARGATE"],
      RuntimePlatform: { CpuArchitecture: "ARM64", OperatingSystemFamily: "LINUX" },
      ContainerDefinitions: [
        Match.objectLike({
          Image: "apachepulsar/pulsar:4.0.7",
          Command: [
            Match.stringLikeRegexp(
              'PULSAR_MEM="-Xms4096m -Xmx4096m -XX:MaxDirectMemorySize=2048m".*authenticationEnabled=true.*webSocketServiceEnabled=true.*allowAutoTopicCreation=false',
            ),
          ],
          Secrets: [Match.objectLike({ Name: "TOKEN_SIGNING_KEY" })],
          MountPoints: [{ ContainerPath: "/pulsar/data", SourceVolume: "data", ReadOnly: false }],
        }),
      ],
    });
    messaging.hasResourceProperties("AWS::ECS::Service", {
      DesiredCount: 1,
      DeploymentConfiguration: Match.objectLike({ MaximumPercent: 100, MinimumHealthyPercent: 0 }),
    });
  });

  it("keeps ledgers on encrypted, backed-up EFS that is retained", () => {
    messaging.hasResource("AWS::EFS::FileSystem", {
      DeletionPolicy: "Retain",
      Properties: Match.objectLike({ Encrypted: true, BackupPolicy: { Status: "ENABLED" } }),
    });
    messaging.hasResourceProperties("AWS::ECS::TaskDefinition", {
      Volumes: [
        Match.objectLike({
          EFSVolumeConfiguration: Match.objectLike({
            TransitEncryption: "ENABLED",
            AuthorizationConfig: Match.objectLike({ IAM: "ENABLED" }),
          }),
        }),
      ],
    });
  });

  it("ends TLS at an internet-facing NLB on 8443 (web service) with the given certificate", () => {
    messaging.hasResourceProperties("AWS::ElasticLoadBalancingV2::LoadBalancer", {
      Type: "network",
      Scheme: "internet-facing",
    });
    messaging.resourceCountIs("AWS::ElasticLoadBalancingV2::Listener", 1);
    messaging.hasResourceProperties("AWS::ElasticLoadBalancingV2::Listener", {
      Port: 8443,
      Protocol: "TLS",
      Certificates: [{ CertificateArn: SELF_HOSTED_CONTEXT["surplus:pulsarCertificateArn"] }],
    });
    messaging.hasResourceProperties("AWS::ElasticLoadBalancingV2::TargetGroup", {
      Port: 8080,
      Protocol: "TCP",
    });
    expect(Object.keys(messaging.findOutputs("PulsarServiceUrl"))).toEqual([]);
    messaging.hasOutput("PulsarAdminUrl", { Value: "https://pulsar.city.example:8443" });
  });
});

describe("settings are checked at synth time", () => {
  const build = (context: Record<string, unknown>) => () => {
    const app = new App({
      context: {
        ...cdkJsonContext(),
        // Only the settings matter here: skip bundling.
        "aws:cdk:bundling-stacks": [],
        "surplus:allocatorEntry": TEST_ENTRIES.allocator,
        "surplus:verifierBridgeEntry": TEST_ENTRIES.verifierBridge,
        ...context,
      },
    });
    addSurplusStacks(app, { nag: false });
  };

  it.each([
    ["a plaintext Pulsar URL", { "surplus:pulsarServiceUrl": "pulsar://broker:6650" }, /plaintext/],
    ["a malformed Pulsar URL", { "surplus:pulsarServiceUrl": "http://broker" }, /serviceUrl must look like/],
    ["an http admin URL", { "surplus:pulsarAdminUrl": "http://broker:8080" }, /adminUrl must be an https/],
    ["an unknown Pulsar mode", { "surplus:pulsarMode": "kafka" }, /must be "managed" or "self-hosted"/],
    ["an unknown removal policy", { "surplus:removalPolicy": "snapshot-ish" }, /removalPolicy/],
    ["a malformed schedule", { "surplus:allocatorSchedule": "every minute" }, /allocatorSchedule/],
    ["an unknown log level", { "surplus:logLevel": "LOUD" }, /logLevel/],
    ["a missing handler entry", { "surplus:allocatorEntry": "lambdas/nowhere/handler.ts" }, /does not exist/],
    ["a bad alarm email", { "surplus:alarmEmail": "ops" }, /alarmEmail/],
    ["a δ_alloc of zero", { "surplus:allocSeconds": 0 }, /allocSeconds/],
    [
      "a self-hosted Pulsar without a certificate",
      { ...SELF_HOSTED_CONTEXT, "surplus:pulsarCertificateArn": undefined },
      /pulsarCertificateArn is required/,
    ],
    [
      "a certificate that is not an ACM ARN",
      { ...SELF_HOSTED_CONTEXT, "surplus:pulsarCertificateArn": "cert" },
      /ACM certificate ARN/,
    ],
    [
      "memory Fargate cannot give that CPU",
      { ...SELF_HOSTED_CONTEXT, "surplus:pulsarMemoryMiB": 2048 },
      /memoryMiB for cpu 2048/,
    ],
    [
      "a CPU size Fargate does not have",
      { ...SELF_HOSTED_CONTEXT, "surplus:pulsarCpu": 3000 },
      /cpu must be one of/,
    ],
    [
      "an allowed range that is not a CIDR",
      { ...SELF_HOSTED_CONTEXT, "surplus:pulsarAllowedCidrs": "everyone" },
      /not an IPv4 CIDR/,
    ],
  ])("rejects %s", (_what, context, message) => {
    let error: unknown;
    try {
      build(context)();
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(SurplusConfigError);
    expect((error as Error).message).toMatch(message);
  });

  it("turns retain into destroy, without deletion protection, when asked", () => {
    const { registries } = buildApp({
      "surplus:removalPolicy": "destroy",
      "aws:cdk:bundling-stacks": [],
    }).templates;
    for (const table of Object.values(registries.findResources("AWS::DynamoDB::Table"))) {
      expect(table["DeletionPolicy"]).toBe("Delete");
      expect(table["Properties"].DeletionProtectionEnabled).toBe(false);
    }
  }, 120_000);
});

describe("cdk.json's placeholder Pulsar URLs", () => {
  it("synthesize, with a warning to set the real ones before deploying", () => {
    const built = buildApp({ "aws:cdk:bundling-stacks": [] });
    Annotations.fromStack(built.stacks.messaging).hasWarning(
      "/surplus-messaging/Pulsar",
      Match.stringLikeRegexp("placeholders"),
    );
    const real = buildApp({
      "aws:cdk:bundling-stacks": [],
      "surplus:pulsarServiceUrl": "pulsar+ssl://pulsar.city.example:6651",
      "surplus:pulsarAdminUrl": "https://pulsar.city.example",
    });
    Annotations.fromStack(real.stacks.messaging).hasNoWarning("*", Match.anyValue());
  }, 120_000);
});

describe("existing secrets given by ARN", () => {
  it("uses them instead of creating secrets, and grants only them", () => {
    const tokenArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:provider/pulsar-token-AbCdEf";
    const signerArn = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:lyon/allocator-key-GhIjKl";
    const built = buildApp({
      "aws:cdk:bundling-stacks": [],
      "surplus:pulsarTokenSecretArn": tokenArn,
      "surplus:signerSecretArn": signerArn,
    });
    built.templates.messaging.resourceCountIs("AWS::SecretsManager::Secret", 0);
    built.templates.functions.resourceCountIs("AWS::SecretsManager::Secret", 0);
    const allocator = JSON.stringify(policyOf(built, "allocator"));
    expect(allocator).toContain(tokenArn);
    expect(allocator).toContain(signerArn);
    const bridge = JSON.stringify(policyOf(built, "verifierBridge"));
    expect(bridge).toContain(tokenArn);
    expect(bridge).not.toContain(signerArn);
    built.templates.functions.hasResourceProperties("AWS::Lambda::Function", {
      Environment: {
        Variables: Match.objectLike({
          [MARKET_ENV.signerSecretArn]: signerArn,
          [MARKET_ENV.pulsarTokenSecretArn]: tokenArn,
        }),
      },
    });
  }, 120_000);
});
