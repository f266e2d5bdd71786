import { existsSync } from "node:fs";
import { Duration, RemovalPolicy, Validations } from "aws-cdk-lib";
import * as cloudwatch from "aws-cdk-lib/aws-cloudwatch";
import * as cwActions from "aws-cdk-lib/aws-cloudwatch-actions";
import type * as dynamodb from "aws-cdk-lib/aws-dynamodb";
import * as events from "aws-cdk-lib/aws-events";
import * as targets from "aws-cdk-lib/aws-events-targets";
import * as iam from "aws-cdk-lib/aws-iam";
import * as lambda from "aws-cdk-lib/aws-lambda";
import * as nodejs from "aws-cdk-lib/aws-lambda-nodejs";
import * as logs from "aws-cdk-lib/aws-logs";
import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import type * as sns from "aws-cdk-lib/aws-sns";
import * as sqs from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { MARKET_ENV } from "../environment.ts";
import { SurplusConfigError } from "../errors.ts";

/** Powertools log levels. */
export const LOG_LEVELS = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "CRITICAL", "SILENT"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** How a bound table may be used. */
export const TableAccess = {
  read: "read",
  readWrite: "readWrite",
} as const;
export type TableAccess = (typeof TableAccess)[keyof typeof TableAccess];

/** A table and the indexes a function may query. */
export interface BindableTable {
  readonly table: dynamodb.ITable;
  readonly indexNames: readonly string[];
}

/** Item-level reads: no Scan (the handlers query by key or index), no stream or export access. */
const TABLE_READ_ACTIONS = [
  "dynamodb:GetItem",
  "dynamodb:BatchGetItem",
  "dynamodb:Query",
  "dynamodb:ConditionCheckItem",
  "dynamodb:DescribeTable",
] as const;
/** Item-level writes, including conditional and transactional ones (TransactWriteItems is authorised per item action). */
const TABLE_WRITE_ACTIONS = [
  "dynamodb:PutItem",
  "dynamodb:UpdateItem",
  "dynamodb:DeleteItem",
  "dynamodb:BatchWriteItem",
] as const;

export interface MarketFunctionProps {
  /** Path of the handler's TypeScript entry file (it exports `handler`). */
  readonly entry: string;
  /** Powertools service name (`POWERTOOLS_SERVICE_NAME`), also used in descriptions. */
  readonly serviceName: string;
  /** What the function does, shown in the console. */
  readonly description: string;
  /**
   * When the function runs (an EventBridge rule; its smallest rate is one minute). Each invocation
   * runs rounds every `roundInterval` for one period of it (a `rate(…)`; a cron expression counts
   * as one minute), so the market clears at the round interval, not at the schedule's.
   * @default events.Schedule.rate(Duration.minutes(1))
   */
  readonly schedule?: events.Schedule;
  /**
   * Time between two rounds within an invocation.
   * @default Duration.seconds(1)
   */
  readonly roundInterval?: Duration;
  /**
   * No round starts with less than this left before the timeout: a round's worst duration, and
   * then some (the allocator ingests for at most 5 s per round).
   * @default Duration.seconds(10)
   */
  readonly stopMargin?: Duration;
  /**
   * Powertools metrics namespace (`POWERTOOLS_METRICS_NAMESPACE`).
   * @default "Surplus"
   */
  readonly metricsNamespace?: string;
  /**
   * Powertools log level (`POWERTOOLS_LOG_LEVEL` and `LOG_LEVEL`).
   * @default "INFO"
   */
  readonly logLevel?: LogLevel;
  /**
   * Memory in MiB (128–10240); CPU scales with it.
   * @default 1024
   */
  readonly memorySize?: number;
  /**
   * Longest run (1 s – 15 min). An invocation runs rounds until its period ends; the timeout must
   * leave it that long plus the stop margin, or each period ends with a gap without rounds. The
   * cursors table's lease keeps overlapping invocations to one at a time.
   * @default the period + the stop margin + 5 s (75 s for the default one-minute rate), at most 15 min
   */
  readonly timeout?: Duration;
  /**
   * Reserved concurrency. New accounts (concurrency limit 10) cannot reserve any; one invocation
   * at a time is the lease's job (operator/src/cadence.ts), so a tick that overlaps its
   * predecessor waits for it instead of being throttled.
   * @default undefined (unreserved)
   */
  readonly reservedConcurrentExecutions?: number;
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Where the alarms notify.
   * @default no action (the alarms still show in CloudWatch)
   */
  readonly alarmTopic?: sns.ITopic;
  /**
   * Errors within 5 minutes that raise the errors alarm.
   * @default 1
   */
  readonly errorsThreshold?: number;
  /**
   * Additional environment variables.
   * @default {}
   */
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * The period of a schedule in seconds: N of `rate(N unit)`; a cron expression counts as a minute
 * (its invocations then run rounds for a minute each).
 */
export function schedulePeriodSeconds(schedule: events.Schedule): number {
  const rate = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(schedule.expressionString);
  if (!rate) return 60;
  const unit = { minute: 60, hour: 3600, day: 86_400 }[
    rate[2]!.replace(/s$/, "") as "minute" | "hour" | "day"
  ];
  return Number(rate[1]) * unit;
}

/** How the market's functions are bundled (one ESM file each), shared by every stack's functions. */
export const MARKET_BUNDLING: nodejs.BundlingOptions = {
  format: nodejs.OutputFormat.ESM,
  target: "node24",
  minify: true,
  sourceMap: true,
  // Bundle the AWS SDK too: the function runs the versions the tests ran, not the runtime's.
  externalModules: [],
  mainFields: ["module", "main"],
  // Some CommonJS dependencies call require(); give the ESM bundle one.
  banner:
    "import { createRequire as __surplusCreateRequire } from 'node:module';const require = __surplusCreateRequire(import.meta.url);",
  forceDockerBundling: false,
};

/**
 * A market function: a `NodejsFunction` (nodejs24.x, ARM64, bundled by the local esbuild — no
 * Docker) run on a schedule, each invocation running rounds every `roundInterval` for its period,
 * with its own role (only its log group until something is bound),
 * an encrypted dead-letter queue for invocations that failed or could not be delivered, alarms
 * on errors, throttles and dead letters, and the Powertools environment.
 *
 * Access is added with the `bind*` helpers, which set the environment variable and the grant
 * together so a function never has a name without the permission or a permission it does not use.
 *
 * A failed scheduled invocation is not retried (`retryAttempts: 0`): the next tick redoes the
 * work, and the handlers are idempotent; the failed event lands in the dead-letter queue and
 * raises its alarm instead.
 */
export class MarketFunction extends Construct {
  readonly function: nodejs.NodejsFunction;
  readonly role: iam.Role;
  readonly deadLetterQueue: sqs.Queue;
  readonly logGroup: logs.LogGroup;
  readonly rule: events.Rule;
  readonly alarms: {
    readonly errors: cloudwatch.Alarm;
    readonly throttles: cloudwatch.Alarm;
    readonly deadLetters: cloudwatch.Alarm;
  };

  constructor(scope: Construct, id: string, props: MarketFunctionProps) {
    super(scope, id);
    const where = `MarketFunction ${this.node.path}`;
    if (!existsSync(props.entry)) {
      throw new SurplusConfigError(`${where}: entry ${props.entry} does not exist`);
    }
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(props.serviceName)) {
      throw new SurplusConfigError(
        `${where}: serviceName must be 1-64 of [A-Za-z0-9_-], got "${props.serviceName}"`,
      );
    }
    const memorySize = props.memorySize ?? 1024;
    if (!Number.isInteger(memorySize) || memorySize < 128 || memorySize > 10240) {
      throw new SurplusConfigError(
        `${where}: memorySize must be an integer in 128..10240 MiB, got ${memorySize}`,
      );
    }
    const schedule = props.schedule ?? events.Schedule.rate(Duration.minutes(1));
    const periodSeconds = schedulePeriodSeconds(schedule);
    const intervalMs = (props.roundInterval ?? Duration.seconds(1)).toMilliseconds();
    const marginMs = (props.stopMargin ?? Duration.seconds(10)).toMilliseconds();
    if (!Number.isInteger(intervalMs) || intervalMs < 100 || intervalMs > periodSeconds * 1000) {
      throw new SurplusConfigError(
        `${where}: roundInterval must be a whole number of ms within 100 ms..the period (${periodSeconds} s), got ${intervalMs} ms`,
      );
    }
    const timeout =
      props.timeout ?? Duration.seconds(Math.min(900, periodSeconds + Math.ceil(marginMs / 1000) + 5));
    const timeoutSeconds = timeout.toSeconds();
    if (timeoutSeconds < 1 || timeoutSeconds > 900) {
      throw new SurplusConfigError(`${where}: timeout must be within 1 s..15 min, got ${timeoutSeconds} s`);
    }
    if (!Number.isInteger(marginMs) || marginMs < 1000 || marginMs >= timeoutSeconds * 1000) {
      throw new SurplusConfigError(
        `${where}: stopMargin must be a whole number of ms within 1 s..the timeout (${timeoutSeconds} s), got ${marginMs} ms`,
      );
    }
    const logLevel = props.logLevel ?? "INFO";
    if (!LOG_LEVELS.includes(logLevel)) {
      throw new SurplusConfigError(
        `${where}: logLevel must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`,
      );
    }
    const reserved = props.reservedConcurrentExecutions;
    if (reserved !== undefined && (!Number.isInteger(reserved) || reserved < 1)) {
      throw new SurplusConfigError(
        `${where}: reservedConcurrentExecutions must be a positive integer, got ${reserved}`,
      );
    }
    const errorsThreshold = props.errorsThreshold ?? 1;
    if (!Number.isInteger(errorsThreshold) || errorsThreshold < 1) {
      throw new SurplusConfigError(
        `${where}: errorsThreshold must be a positive integer, got ${errorsThreshold}`,
      );
    }

    this.logGroup = new logs.LogGroup(this, "Logs", {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: RemovalPolicy.DESTROY,
    });
    this.role = new iam.Role(this, "Role", {
      assumedBy: new iam.ServicePrincipal("lambda.amazonaws.com"),
      description: `${props.serviceName}: writes its own logs; everything else is bound explicitly`,
    });
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: ["logs:CreateLogStream", "logs:PutLogEvents"],
        resources: [`${this.logGroup.logGroupArn}`],
      }),
    );
    this.deadLetterQueue = new sqs.Queue(this, "DeadLetters", {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });

    this.function = new nodejs.NodejsFunction(this, "Function", {
      entry: props.entry,
      handler: "handler",
      description: props.description,
      runtime: lambda.Runtime.NODEJS_24_X,
      architecture: lambda.Architecture.ARM_64,
      memorySize,
      timeout,
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      ...(reserved === undefined ? {} : { reservedConcurrentExecutions: reserved }),
      deadLetterQueue: this.deadLetterQueue,
      retryAttempts: 0,
      maxEventAge: Duration.minutes(5),
      environment: {
        POWERTOOLS_SERVICE_NAME: props.serviceName,
        POWERTOOLS_METRICS_NAMESPACE: props.metricsNamespace ?? "Surplus",
        POWERTOOLS_LOG_LEVEL: logLevel,
        LOG_LEVEL: logLevel,
        NODE_OPTIONS: "--enable-source-maps",
        [MARKET_ENV.roundIntervalMs]: String(intervalMs),
        [MARKET_ENV.schedulePeriodSeconds]: String(periodSeconds),
        [MARKET_ENV.stopMarginMs]: String(marginMs),
        ...props.environment,
      },
      bundling: MARKET_BUNDLING,
    });

    this.rule = new events.Rule(this, "Schedule", {
      description: `Runs ${props.serviceName}`,
      schedule,
      targets: [
        new targets.LambdaFunction(this.function, {
          deadLetterQueue: this.deadLetterQueue,
          retryAttempts: 2,
          maxEventAge: Duration.minutes(5),
        }),
      ],
    });

    const period = Duration.minutes(5);
    const alarm = (alarmId: string, metric: cloudwatch.IMetric, threshold: number, what: string) => {
      const created = new cloudwatch.Alarm(this, alarmId, {
        alarmDescription: `${props.serviceName}: ${what}`,
        metric,
        threshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      if (props.alarmTopic) {
        created.addAlarmAction(new cwActions.SnsAction(props.alarmTopic));
        created.addOkAction(new cwActions.SnsAction(props.alarmTopic));
      }
      return created;
    };
    this.alarms = {
      errors: alarm(
        "ErrorsAlarm",
        this.function.metricErrors({ period, statistic: cloudwatch.Stats.SUM }),
        errorsThreshold,
        `${errorsThreshold} or more failed invocations in 5 minutes`,
      ),
      throttles: alarm(
        "ThrottlesAlarm",
        this.function.metricThrottles({ period, statistic: cloudwatch.Stats.SUM }),
        1,
        "invocations throttled (concurrency exhausted)",
      ),
      deadLetters: alarm(
        "DeadLettersAlarm",
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
          period,
          statistic: cloudwatch.Stats.MAXIMUM,
        }),
        1,
        "failed invocations waiting in the dead-letter queue",
      ),
    };

    Validations.of(this.deadLetterQueue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason: "This queue is itself the dead-letter queue of the function and its schedule.",
    });
  }

  /**
   * Sets `envName` to the table's name and grants exactly `access` on the table and the named
   * indexes (no `index/*`), with the matching use of the table's KMS key.
   */
  bindTable(table: BindableTable, envName: string, access: TableAccess): this {
    this.function.addEnvironment(envName, table.table.tableName);
    const write = access === TableAccess.readWrite;
    this.role.addToPolicy(
      new iam.PolicyStatement({
        actions: write ? [...TABLE_READ_ACTIONS, ...TABLE_WRITE_ACTIONS] : [...TABLE_READ_ACTIONS],
        resources: [table.table.tableArn],
      }),
    );
    if (table.indexNames.length > 0) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: ["dynamodb:Query"],
          resources: table.indexNames.map((index) => `${table.table.tableArn}/index/${index}`),
        }),
      );
    }
    const key = table.table.encryptionKey;
    if (key) {
      this.role.addToPolicy(
        new iam.PolicyStatement({
          actions: write
            ? ["kms:Decrypt", "kms:DescribeKey", "kms:Encrypt", "kms:GenerateDataKey"]
            : ["kms:Decrypt", "kms:DescribeKey"],
          resources: [key.keyArn],
        }),
      );
    }
    return this;
  }

  /** Sets `envName` to the secret's ARN and grants reading (and decrypting) that secret only. */
  bindSecret(secret: secretsmanager.ISecret, envName: string): this {
    this.function.addEnvironment(envName, secret.secretArn);
    secret.grantRead(this.role);
    return this;
  }

  /** Sets a plain environment variable (no permission involved). */
  setEnvironment(envName: string, value: string): this {
    this.function.addEnvironment(envName, value);
    return this;
  }
}
