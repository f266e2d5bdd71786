import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CfnOutput,
  DefaultStackSynthesizer,
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Token,
  Validations,
} from "aws-cdk-lib";
import * as cloudfront from "aws-cdk-lib/aws-cloudfront";
import * as origins from "aws-cdk-lib/aws-cloudfront-origins";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import * as s3 from "aws-cdk-lib/aws-s3";
import * as s3deploy from "aws-cdk-lib/aws-s3-deployment";
import * as ssm from "aws-cdk-lib/aws-ssm";
import type { Construct } from "constructs";
import { MARKET_BUNDLING } from "../constructs/market-function.ts";
import type { Registries } from "../constructs/registries.ts";
import { chainParameterNames, MARKET_ENV } from "../environment.ts";
import { SurplusConfigError } from "../errors.ts";

/** The console's files: the page the local console serves (one source) and Chart.js as installed. */
export const CONSOLE_SOURCES = {
  api: fileURLToPath(new URL("../../../lambdas/console/handler.ts", import.meta.url)),
  static: fileURLToPath(new URL("../../../localstack/src/console/static", import.meta.url)),
  chartJs: fileURLToPath(new URL("../../../node_modules/chart.js/dist", import.meta.url)),
} as const;

/** The registries the console reads: statuses and terms (offers, allocations), reputations (participants). */
const READ_TABLES = ["offers", "allocations", "participants"] as const;

export interface ConsoleStackProps extends StackProps {
  /** The market's name (SSM parameter paths `/surplus/${market}/chain/…`). */
  readonly market: string;
  readonly registries: Registries;
  /** The API handler's entry. @default CONSOLE_SOURCES.api (lambdas/console/handler.ts) */
  readonly apiEntry?: string;
}

/**
 * The market console, deployed (issue 17): the page on S3 behind CloudFront (origin access
 * control, HTTPS only, access logs), and its read-only API, a Lambda function URL with AuthType
 * AWS_IAM: only a signed request of a principal allowed `lambda:InvokeFunctionUrl` (the
 * `ConsoleReaders` policy, or the account's administrators) reads the market. The function may
 * read three registries and the chain, and write nothing but its logs.
 */
export class ConsoleStack extends Stack {
  readonly api: nodejs.NodejsFunction;
  readonly apiUrl: lambda.FunctionUrl;
  readonly distribution: cloudfront.Distribution;
  readonly readers: iam.ManagedPolicy;

  constructor(scope: Construct, id: string, props: ConsoleStackProps) {
    super(scope, id, props);
    // S3 server access logs through a bucket policy, not the legacy ACL (this stack's buckets only).
    this.node.setContext("@aws-cdk/aws-s3:serverAccessLogsUseBucketPolicy", true);
    const entry = props.apiEntry ?? CONSOLE_SOURCES.api;
    if (!existsSync(entry)) throw new SurplusConfigError(`ConsoleStack: entry ${entry} does not exist`);
    const parameters = chainParameterNames(props.market);

    // Access logs (cdk-nag CFR3, S1): CloudFront's standard logs arrive through the bucket's ACL,
    // S3's server access logs through a bucket policy, so each has its own bucket.
    const logBucket = (id: string, objectOwnership: s3.ObjectOwnership) => {
      const bucket = new s3.Bucket(this, id, {
        blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
        encryption: s3.BucketEncryption.S3_MANAGED,
        enforceSSL: true,
        objectOwnership,
        lifecycleRules: [{ expiration: Duration.days(90) }],
        removalPolicy: RemovalPolicy.RETAIN,
      });
      Validations.of(bucket).acknowledge({
        id: "AwsSolutions-S1",
        reason: "This is an access-log bucket itself; logging its own accesses into itself would loop.",
      });
      return bucket;
    };
    const cdnLogs = logBucket("CdnLogs", s3.ObjectOwnership.OBJECT_WRITER);
    const assetLogs = logBucket("AssetLogs", s3.ObjectOwnership.BUCKET_OWNER_ENFORCED);
    const assets = new s3.Bucket(this, "Assets", {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      serverAccessLogsBucket: assetLogs,
      removalPolicy: RemovalPolicy.RETAIN,
    });

    this.distribution = new cloudfront.Distribution(this, "Distribution", {
      comment: `Surplus ${props.market}: market console`,
      defaultRootObject: "index.html",
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(assets),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        allowedMethods: cloudfront.AllowedMethods.ALLOW_GET_HEAD,
        responseHeadersPolicy: cloudfront.ResponseHeadersPolicy.SECURITY_HEADERS,
      },
      enableLogging: true,
      logBucket: cdnLogs,
      logFilePrefix: "cloudfront/",
    });
    Validations.of(this.distribution).acknowledge(
      {
        id: "AwsSolutions-CFR1",
        reason:
          "The console is for the city operator and the market's participants wherever they are; the API behind it is IAM-authenticated.",
      },
      {
        id: "AwsSolutions-CFR2",
        reason:
          "The distribution serves four static files; the data is behind the IAM-authenticated function URL, which WAF would not front.",
      },
      {
        id: "AwsSolutions-CFR4",
        reason:
          "It uses the default *.cloudfront.net certificate, whose TLS floor CloudFront fixes; a custom domain with its own certificate can raise it.",
      },
    );

    const logGroup = new logs.LogGroup(this, "ApiLogs", {
      retention: logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    const role = new iam.Role(this, "ApiRole", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: "console API: reads three registries and writes its own logs",
    });
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [logGroup.logGroupArn],
      }),
    );
    const tables = READ_TABLES.map((name) => props.registries.tables[name].table);
    // Scan: the console lists every offer status and reputation (the market functions never scan).
    role.addToPolicy(
      new iam.PolicyStatement({
        actions: ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan"],
        resources: tables.map((t) => t.tableArn),
      }),
    );
    const keys = [...new Set(tables.map((t) => t.encryptionKey).filter((k) => k !== undefined))];
    if (keys.length)
      role.addToPolicy(
        new iam.PolicyStatement({
          actions: ["kms:Decrypt", "kms:DescribeKey"],
          resources: keys.map((k) => k.keyArn),
        }),
      );

    this.api = new nodejs.NodejsFunction(this, "Api", {
      entry,
      handler: "handler",
      description: "Surplus console: read-only view of the registries and the chain",
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize: 512,
      timeout: Duration.seconds(15),
      role,
      logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      environment: {
        NODE_OPTIONS: "--enable-source-maps",
        [MARKET_ENV.tablePrefix]: props.registries.tablePrefix,
        [MARKET_ENV.marketAddress]: ssm.StringParameter.valueForStringParameter(
          this,
          parameters.contractAddress,
        ),
        [MARKET_ENV.chainRpcUrl]: ssm.StringParameter.valueForStringParameter(this, parameters.rpcUrl),
      },
      bundling: MARKET_BUNDLING,
    });
    this.apiUrl = this.api.addFunctionUrl({
      authType: lambda.FunctionUrlAuthType.AWS_IAM,
      // The page on CloudFront calls it with signed GETs.
      cors: {
        allowedOrigins: [`https://${this.distribution.distributionDomainName}`],
        allowedMethods: [lambda.HttpMethod.GET],
        allowedHeaders: ["authorization", "x-amz-date", "x-amz-security-token", "x-amz-content-sha256"],
        maxAge: Duration.minutes(10),
      },
    });

    // One source: the files ./surplus market serves, and Chart.js from its npm package.
    new s3deploy.BucketDeployment(this, "Page", {
      destinationBucket: assets,
      sources: [
        s3deploy.Source.asset(CONSOLE_SOURCES.static),
        s3deploy.Source.data(
          "vendor/chart.umd.min.js",
          readFileSync(join(CONSOLE_SOURCES.chartJs, "chart.umd.min.js"), "utf8"),
        ),
        // Where the page reads the market: its own API, fixed at deploy time (never taken from the
        // link, so the page signs requests for this API only).
        s3deploy.Source.jsonData("console-config.json", { api: this.apiUrl.url }),
      ],
      distribution: this.distribution,
      prune: false,
    });

    // CDK's own asset-copying function (a singleton the deployment adds): it runs only while the
    // stack deploys, and its grants are CDK's. Each finding is listed, so a new one still fails.
    const copier = this.node.children.find((c) => c.node.id.startsWith("Custom::CDKBucketDeployment"));
    if (copier) {
      // The CDK staging bucket's name, as cdk-nag renders it (concrete once the stack has an env).
      const staging = [this.account, this.region]
        .map((v, i) => (Token.isUnresolved(v) ? ["<AWS::AccountId>", "<AWS::Region>"][i] : v))
        .join("-");
      const why = {
        logs: "CDK's asset-copying function writes its logs through AWSLambdaBasicExecutionRole; it runs only while the stack deploys.",
        s3: "CDK's asset-copying function reads the staged assets and writes the console's files; object keys are not known before the copy.",
        invalidate:
          "CDK's asset-copying function invalidates the distribution's cache after a copy; CloudFront invalidations take no resource ARN.",
        runtime:
          "The runtime of CDK's asset-copying function is chosen by aws-cdk-lib, not by this app; it runs only while the stack deploys.",
      };
      Validations.of(copier).acknowledge(
        {
          id: "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
          reason: why.logs,
        },
        ...[
          "Action::s3:GetBucket*",
          "Action::s3:GetObject*",
          "Action::s3:List*",
          "Action::s3:Abort*",
          "Action::s3:DeleteObject*",
          `Resource::arn:<AWS::Partition>:s3:::cdk-${DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-${staging}/*`,
          `Resource::<${this.getLogicalId(assets.node.defaultChild as s3.CfnBucket)}.Arn>/*`,
        ].map((finding) => ({ id: `AwsSolutions-IAM5[${finding}]`, reason: why.s3 })),
        { id: "AwsSolutions-IAM5[Resource::*]", reason: why.invalidate },
        { id: "AwsSolutions-L1", reason: why.runtime },
      );
    }

    this.readers = new iam.ManagedPolicy(this, "ConsoleReaders", {
      description: `Surplus ${props.market}: may read the market console's API (attach to the operator's and participants' roles)`,
      statements: [
        new iam.PolicyStatement({
          actions: ["lambda:InvokeFunctionUrl"],
          resources: [this.api.functionArn],
          conditions: { StringEquals: { "lambda:FunctionUrlAuthType": "AWS_IAM" } },
        }),
      ],
    });

    new CfnOutput(this, "ConsoleUrl", {
      description:
        "Open this; the page asks for AWS credentials allowed by ConsoleReadersPolicy and signs its reads",
      value: `https://${this.distribution.distributionDomainName}/`,
    });
    new CfnOutput(this, "ConsoleApiUrl", {
      description: "The API's one read: GET with a SigV4-signed request (service lambda)",
      value: `${this.apiUrl.url}api/market`,
    });
    new CfnOutput(this, "ConsoleReadersPolicy", { value: this.readers.managedPolicyArn });
  }
}
