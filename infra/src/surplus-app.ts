import { resolve } from "node:path";
import { type App, type Environment, Validations } from "aws-cdk-lib";
import { AwsSolutionsChecks } from "cdk-nag";
import { readConfig, type SurplusConfig } from "./config.ts";
import { ConsoleStack } from "./stacks/console-stack.ts";
import { MarketFunctionsStack } from "./stacks/market-functions-stack.ts";
import { MessagingStack } from "./stacks/messaging-stack.ts";
import { RegistriesStack } from "./stacks/registries-stack.ts";

export interface SurplusStacks {
  readonly config: SurplusConfig;
  readonly messaging: MessagingStack;
  readonly registries: RegistriesStack;
  readonly functions: MarketFunctionsStack;
  readonly console: ConsoleStack;
}

export interface AddSurplusOptions {
  /** Account and region; undefined leaves the stacks environment-agnostic. @default undefined */
  readonly env?: Environment;
  /** Run cdk-nag's AwsSolutions pack over every stack during synth. @default true */
  readonly nag?: boolean;
  /** Folder that relative `surplus:*Entry` paths are resolved against. @default process.cwd() */
  readonly baseDir?: string;
}

/** Adds the market's three stacks to `app`, configured from its context. */
export function addSurplusStacks(app: App, options: AddSurplusOptions = {}): SurplusStacks {
  const config = readConfig((key) => app.node.tryGetContext(key));
  const baseDir = options.baseDir ?? process.cwd();
  const env = options.env ? { env: options.env } : {};
  const prefix = config.market;

  const messaging = new MessagingStack(app, `${prefix}-messaging`, {
    ...env,
    description: "Surplus: the Pulsar endpoint the market uses",
    pulsar: config.pulsar,
  });
  const registries = new RegistriesStack(app, `${prefix}-registries`, {
    ...env,
    description: "Surplus: the market's DynamoDB registries",
    registries: { removalPolicy: config.removalPolicy, tablePrefix: `${config.market}-` },
  });
  const functions = new MarketFunctionsStack(app, `${prefix}-functions`, {
    ...env,
    description: "Surplus: the allocator and the verifier-bridge",
    market: config.market,
    registries: registries.registries,
    pulsar: messaging.connection,
    chainId: config.chainId,
    ...(config.allocSeconds === undefined ? {} : { allocSeconds: config.allocSeconds }),
    logLevel: config.logLevel,
    allocatorSchedule: config.allocatorSchedule,
    verifierBridgeSchedule: config.verifierBridgeSchedule,
    ...(config.allocatorEntry ? { allocatorEntry: resolve(baseDir, config.allocatorEntry) } : {}),
    ...(config.verifierBridgeEntry
      ? { verifierBridgeEntry: resolve(baseDir, config.verifierBridgeEntry) }
      : {}),
    ...(config.signerSecretArn ? { signerSecretArn: config.signerSecretArn } : {}),
    ...(config.alarmEmail ? { alarmEmail: config.alarmEmail } : {}),
  });
  functions.addStackDependency(registries);
  functions.addStackDependency(messaging);
  const consoleStack = new ConsoleStack(app, `${prefix}-console`, {
    ...env,
    description: "Surplus: the market console (page on CloudFront, read-only API behind IAM)",
    market: config.market,
    registries: registries.registries,
  });
  consoleStack.addStackDependency(registries);
  if (options.nag ?? true) Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { config, messaging, registries, functions, console: consoleStack };
}
