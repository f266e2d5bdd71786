// `cdk bootstrap` and `cdk deploy --all` against moto's server (a local AWS endpoint, no Docker),
// then a look at what was created. moto emulates the control planes only: it stores the Lambda
// functions but does not run their code without Docker — the handlers' behaviour is covered by
// the lambdas/ and end-to-end tests on the local market.
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import {
  CloudFormationClient,
  DescribeStacksCommand,
  GetTemplateCommand,
  ListStackResourcesCommand,
} from "@aws-sdk/client-cloudformation";
import { DescribeTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EventBridgeClient, ListRulesCommand, ListTargetsByRuleCommand } from "@aws-sdk/client-eventbridge";
import { GetFunctionCommand, LambdaClient, ListFunctionsCommand } from "@aws-sdk/client-lambda";
import { GetQueueAttributesCommand, ListQueuesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { PutParameterCommand, SSMClient } from "@aws-sdk/client-ssm";
import { tableDefinitions, tableNames } from "@surplus/adapters/dynamodb";
import { MOTO_ACCOUNT, type MotoServer, startMotoServer } from "@surplus/localstack/moto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chainParameterNames, MARKET_ENV } from "../src/environment.ts";
import { ROOT } from "./support/app.ts";

const MARKET = "moto";
/**
 * The stacks deployed. Not the console (`${MARKET}-console`): moto 5.2.5's CloudFormation has no
 * AWS::CloudFront::Distribution or AWS::Lambda::Url (CreateStack fails resolving a GetAtt of
 * either) and cannot run the Lambda behind CDK's asset-copying custom resource; the console stack
 * is checked by assertions, cdk-nag and cfn-lint (infra/test/console-stack.test.ts, checks.test.ts).
 */
const STACKS = [`${MARKET}-messaging`, `${MARKET}-registries`, `${MARKET}-functions`];
const CONTRACT = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
const RPC_URL = "https://rpc.sepolia.example";

/**
 * What moto's CloudFormation (5.2.5) skips with a warning instead of creating; the stacks still
 * complete without them. If moto learns one, this list shrinks and the test says so.
 */
const SKIPPED_BY_MOTO = [
  "AWS::CloudWatch::Alarm",
  "AWS::Lambda::EventInvokeConfig",
  // The bootstrap stack's.
  "AWS::S3::BucketPolicy",
  "AWS::SQS::QueuePolicy",
  "AWS::SecretsManager::Secret",
];

describe("cdk deploy to moto's server", () => {
  let moto: MotoServer;
  let outdir: string;
  let context: string[];
  const clientConfig = () => ({
    endpoint: moto.endpoint,
    region: "us-east-1",
    credentials: { accessKeyId: "testing", secretAccessKey: "testing" },
  });

  /** The template CloudFormation (moto) holds for a deployed stack. */
  async function deployedTemplate(stackName: string): Promise<{
    Resources: Record<string, { Type: string; Properties: Record<string, unknown> }>;
  }> {
    const cfn = new CloudFormationClient(clientConfig());
    const { TemplateBody } = await cfn.send(new GetTemplateCommand({ StackName: stackName }));
    return JSON.parse(TemplateBody ?? "{}");
  }

  /** Runs the pinned CDK CLI from the repository root, aimed at moto. */
  async function cdk(...args: string[]): Promise<string> {
    const started = Date.now();
    process.stderr.write(`[infra] cdk ${args[0]}…\n`);
    const { stdout, stderr } = await promisify(execFile)(join(ROOT, "node_modules/.bin/cdk"), args, {
      cwd: ROOT,
      maxBuffer: 64 << 20,
      env: {
        ...process.env,
        ...moto.env,
        // The app runs with this Node (24), not whatever `node` is first on PATH.
        PATH: [dirname(process.execPath), join(ROOT, "node_modules/.bin"), process.env["PATH"] ?? ""].join(
          delimiter,
        ),
        CDK_DISABLE_VERSION_CHECK: "1",
        CI: "true",
      },
    });
    process.stderr.write(`[infra] cdk ${args[0]} done in ${((Date.now() - started) / 1000).toFixed(0)} s\n`);
    return stdout + stderr;
  }

  beforeAll(async () => {
    moto = await startMotoServer();
    // What the operator does once the contract is deployed (README): the functions' stack reads
    // the address at deploy time.
    const ssm = new SSMClient(clientConfig());
    const parameters = chainParameterNames(MARKET);
    await ssm.send(
      new PutParameterCommand({ Name: parameters.contractAddress, Value: CONTRACT, Type: "String" }),
    );
    await ssm.send(
      new PutParameterCommand({
        Name: parameters.rpcUrl,
        Value: RPC_URL,
        Type: "String",
      }),
    );
    outdir = mkdtempSync(join(tmpdir(), "surplus-cdk-moto-"));
    // The default entries: the real handlers in lambdas/, bundled and uploaded as in AWS.
    context = [`surplus:market=${MARKET}`, "surplus:removalPolicy=destroy"].flatMap((c) => ["-c", c]);
    await cdk("bootstrap", `aws://${MOTO_ACCOUNT}/us-east-1`, "-o", outdir, ...context);
    // --method=direct (CreateStack rather than a change set): moto registers a stack's exports,
    // which the functions' stack imports from the registries', only on CreateStack/UpdateStack.
    await cdk("deploy", ...STACKS, "--method=direct", "--require-approval=never", "-o", outdir, ...context);
  }, 600_000);

  afterAll(async () => {
    await moto?.stop();
  });

  it("creates the three stacks", async () => {
    const cfn = new CloudFormationClient(clientConfig());
    for (const name of STACKS) {
      const { Stacks } = await cfn.send(new DescribeStacksCommand({ StackName: name }));
      expect(Stacks?.[0]?.StackStatus, name).toBe("CREATE_COMPLETE");
    }
    const { StackResourceSummaries } = await cfn.send(
      new ListStackResourcesCommand({ StackName: STACKS[2] }),
    );
    const types = new Set(StackResourceSummaries?.map((r) => r.ResourceType));
    expect(types).toEqual(new Set([...types].filter((t) => !SKIPPED_BY_MOTO.includes(t ?? ""))));
  });

  it("skips only the resource types moto's CloudFormation does not support", () => {
    expect([...moto.skippedResourceTypes].sort()).toEqual(SKIPPED_BY_MOTO);
  });

  it("creates the registries with the adapters' names, keys and indexes", async () => {
    const dynamo = new DynamoDBClient(clientConfig());
    for (const request of tableDefinitions(tableNames(`${MARKET}-`))) {
      const { Table } = await dynamo.send(new DescribeTableCommand({ TableName: request.TableName }));
      expect(Table?.TableStatus, request.TableName).toBe("ACTIVE");
      expect(Table?.KeySchema).toEqual(request.KeySchema);
      expect(Table?.BillingModeSummary?.BillingMode).toBe("PAY_PER_REQUEST");
      expect((Table?.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName).sort()).toEqual(
        (request.GlobalSecondaryIndexes ?? []).map((g) => g.IndexName).sort(),
      );
    }
  });

  // moto's CloudFormation creates the tables without passing on SSESpecification (it reads
  // `Enabled`, CloudFormation says `SSEEnabled`), PointInTimeRecoverySpecification or
  // TimeToLiveSpecification, so these are checked in the template moto deployed.
  it("deployed the tables with KMS encryption, PITR and TTL (as the template moto stored says)", async () => {
    const template = await deployedTemplate(`${MARKET}-registries`);
    const tables = Object.values(template.Resources).filter((r) => r.Type === "AWS::DynamoDB::Table");
    expect(tables).toHaveLength(5);
    for (const table of tables) {
      expect(table.Properties["SSESpecification"]).toMatchObject({ SSEEnabled: true, SSEType: "KMS" });
      expect(table.Properties["PointInTimeRecoverySpecification"]).toMatchObject({
        PointInTimeRecoveryEnabled: true,
      });
    }
    expect(tables.map((t) => t.Properties["TimeToLiveSpecification"]).filter(Boolean)).toEqual([
      { AttributeName: "expiration", Enabled: true },
    ]);
  });

  it("creates both functions on nodejs24.x with the market's environment", async () => {
    const lambda = new LambdaClient(clientConfig());
    const { Functions } = await lambda.send(new ListFunctionsCommand({}));
    expect(Functions).toHaveLength(2);
    const services = new Set<string>();
    for (const summary of Functions ?? []) {
      const { Configuration } = await lambda.send(
        new GetFunctionCommand({ FunctionName: summary.FunctionName }),
      );
      expect(Configuration?.Runtime).toBe("nodejs24.x");
      const env = Configuration?.Environment?.Variables ?? {};
      services.add(env["POWERTOOLS_SERVICE_NAME"] ?? "");
      // Resolved from the SSM parameter the operator wrote before the deploy.
      expect(env[MARKET_ENV.marketAddress]).toBe(CONTRACT);
      expect(env[MARKET_ENV.chainRpcUrl]).toBe(RPC_URL);
      expect(env[MARKET_ENV.tablePrefix]).toBe(`${MARKET}-`);
    }
    expect(services).toEqual(new Set(["allocator", "verifier-bridge"]));
  });

  // moto's CloudFormation creates functions as x86_64 and without DeadLetterConfig or
  // LoggingConfig (it passes on only a few properties), so these are checked in the template.
  it("deployed the functions for ARM64 with a dead-letter queue (as the template moto stored says)", async () => {
    const template = await deployedTemplate(`${MARKET}-functions`);
    const functions = Object.values(template.Resources).filter((r) => r.Type === "AWS::Lambda::Function");
    expect(functions).toHaveLength(2);
    for (const fn of functions) {
      expect(fn.Properties["Architectures"]).toEqual(["arm64"]);
      expect(fn.Properties["DeadLetterConfig"]).toHaveProperty("TargetArn");
    }
  });

  it("schedules both functions every minute with a dead-letter queue", async () => {
    const events = new EventBridgeClient(clientConfig());
    const { Rules } = await events.send(new ListRulesCommand({}));
    expect(Rules?.map((r) => r.ScheduleExpression)).toEqual(["rate(1 minute)", "rate(1 minute)"]);
    for (const rule of Rules ?? []) {
      const { Targets } = await events.send(new ListTargetsByRuleCommand({ Rule: rule.Name }));
      expect(Targets?.[0]?.Arn).toMatch(/^arn:aws:lambda:/);
      expect(Targets?.[0]?.DeadLetterConfig?.Arn).toMatch(/^arn:aws:sqs:/);
    }
    const sqs = new SQSClient(clientConfig());
    const { QueueUrls } = await sqs.send(new ListQueuesCommand({}));
    expect(QueueUrls).toHaveLength(2);
    for (const url of QueueUrls ?? []) {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: ["All"] }),
      );
      expect(Attributes?.["SqsManagedSseEnabled"]).toBe("true");
    }
  });

  it("tears down with cdk destroy (removal policy destroy)", async () => {
    await cdk("destroy", ...STACKS, "--force", "-o", outdir, ...context);
    const cfn = new CloudFormationClient(clientConfig());
    for (const name of STACKS) {
      const status = await cfn
        .send(new DescribeStacksCommand({ StackName: name }))
        .then((r) => r.Stacks?.[0]?.StackStatus ?? "gone")
        .catch(() => "gone");
      expect(["gone", "DELETE_COMPLETE"], name).toContain(status);
    }
  }, 300_000);
});
