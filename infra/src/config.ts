// The app's settings, read from CDK context (`cdk.json` or `-c key=value`) and checked before
// any construct is made, so a typo fails `cdk synth` with the key's name rather than a deploy.
import { RemovalPolicy } from "aws-cdk-lib";
import * as events from "aws-cdk-lib/aws-events";
import type { LogLevel } from "./constructs/market-function.ts";
import { LOG_LEVELS } from "./constructs/market-function.ts";
import { SurplusConfigError } from "./errors.ts";
import type { PulsarChoice } from "./stacks/messaging-stack.ts";

/** Reads one context value; CDK gives strings for `-c` and JSON values from cdk.json. */
export type ContextReader = (key: string) => unknown;

export interface SurplusConfig {
  readonly market: string;
  readonly pulsar: PulsarChoice;
  readonly removalPolicy: RemovalPolicy;
  readonly chainId: number;
  readonly allocSeconds?: number;
  readonly logLevel: LogLevel;
  readonly allocatorSchedule: events.Schedule;
  readonly verifierBridgeSchedule: events.Schedule;
  readonly allocatorEntry?: string;
  readonly verifierBridgeEntry?: string;
  readonly signerSecretArn?: string;
  readonly alarmEmail?: string;
}

/** Every context key the app reads, with what it means (the README lists the same). */
export const CONTEXT_KEYS = {
  market: "surplus:market",
  pulsarMode: "surplus:pulsarMode",
  pulsarServiceUrl: "surplus:pulsarServiceUrl",
  pulsarAdminUrl: "surplus:pulsarAdminUrl",
  pulsarTokenSecretArn: "surplus:pulsarTokenSecretArn",
  pulsarDomainName: "surplus:pulsarDomainName",
  pulsarCertificateArn: "surplus:pulsarCertificateArn",
  pulsarCpu: "surplus:pulsarCpu",
  pulsarMemoryMiB: "surplus:pulsarMemoryMiB",
  pulsarAllowedCidrs: "surplus:pulsarAllowedCidrs",
  removalPolicy: "surplus:removalPolicy",
  chainId: "surplus:chainId",
  allocSeconds: "surplus:allocSeconds",
  logLevel: "surplus:logLevel",
  allocatorSchedule: "surplus:allocatorSchedule",
  verifierBridgeSchedule: "surplus:verifierBridgeSchedule",
  allocatorEntry: "surplus:allocatorEntry",
  verifierBridgeEntry: "surplus:verifierBridgeEntry",
  signerSecretArn: "surplus:signerSecretArn",
  alarmEmail: "surplus:alarmEmail",
} as const;

const SCHEDULE = /^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\([^)]+\))$/;

function optionalString(read: ContextReader, key: string): string | undefined {
  const value = read(key);
  if (value === undefined || value === null || value === "") return undefined;
  if (typeof value !== "string")
    throw new SurplusConfigError(`context ${key} must be a string, got ${JSON.stringify(value)}`);
  return value;
}

function requiredString(read: ContextReader, key: string, why: string): string {
  const value = optionalString(read, key);
  if (value === undefined) throw new SurplusConfigError(`context ${key} is required ${why}`);
  return value;
}

function optionalInteger(read: ContextReader, key: string): number | undefined {
  const value = read(key);
  if (value === undefined || value === null || value === "") return undefined;
  const n = typeof value === "number" ? value : Number(value);
  if (!Number.isSafeInteger(n))
    throw new SurplusConfigError(`context ${key} must be an integer, got ${JSON.stringify(value)}`);
  return n;
}

function schedule(read: ContextReader, key: string): events.Schedule {
  const value = optionalString(read, key) ?? "rate(1 minute)";
  if (!SCHEDULE.test(value)) {
    throw new SurplusConfigError(
      `context ${key} must be rate(N minutes|hours|days) or cron(…), got "${value}"`,
    );
  }
  return events.Schedule.expression(value);
}

/** Reads and checks the app's context. */
export function readConfig(read: ContextReader): SurplusConfig {
  const market = optionalString(read, CONTEXT_KEYS.market) ?? "surplus";
  const mode = optionalString(read, CONTEXT_KEYS.pulsarMode) ?? "managed";
  let pulsar: PulsarChoice;
  const tokenSecretName = `surplus/${market}/pulsar-admin-token`;
  const tokenSecretArn = optionalString(read, CONTEXT_KEYS.pulsarTokenSecretArn);
  if (mode === "managed") {
    pulsar = {
      mode,
      serviceUrl: requiredString(read, CONTEXT_KEYS.pulsarServiceUrl, "for a managed Pulsar"),
      adminUrl: requiredString(read, CONTEXT_KEYS.pulsarAdminUrl, "for a managed Pulsar"),
      secretName: tokenSecretName,
      ...(tokenSecretArn === undefined ? {} : { tokenSecretArn }),
    };
  } else if (mode === "self-hosted") {
    const cpu = optionalInteger(read, CONTEXT_KEYS.pulsarCpu);
    const memoryMiB = optionalInteger(read, CONTEXT_KEYS.pulsarMemoryMiB);
    const cidrs = optionalString(read, CONTEXT_KEYS.pulsarAllowedCidrs);
    pulsar = {
      mode,
      domainName: requiredString(read, CONTEXT_KEYS.pulsarDomainName, "for a self-hosted Pulsar"),
      certificateArn: requiredString(read, CONTEXT_KEYS.pulsarCertificateArn, "for a self-hosted Pulsar"),
      tokenSecretName,
      ...(cpu === undefined ? {} : { cpu }),
      ...(memoryMiB === undefined ? {} : { memoryMiB }),
      ...(cidrs === undefined ? {} : { allowedCidrs: cidrs.split(",").map((c) => c.trim()) }),
    };
  } else {
    throw new SurplusConfigError(
      `context ${CONTEXT_KEYS.pulsarMode} must be "managed" or "self-hosted", got "${mode}"`,
    );
  }

  const removal = optionalString(read, CONTEXT_KEYS.removalPolicy) ?? "retain";
  if (removal !== "retain" && removal !== "destroy") {
    throw new SurplusConfigError(
      `context ${CONTEXT_KEYS.removalPolicy} must be "retain" or "destroy", got "${removal}"`,
    );
  }
  const logLevel = (optionalString(read, CONTEXT_KEYS.logLevel) ?? "INFO").toUpperCase();
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new SurplusConfigError(
      `context ${CONTEXT_KEYS.logLevel} must be one of ${LOG_LEVELS.join(", ")}, got "${logLevel}"`,
    );
  }
  const allocSeconds = optionalInteger(read, CONTEXT_KEYS.allocSeconds);
  const optional = (key: string, name: string) => {
    const value = optionalString(read, key);
    return value === undefined ? {} : { [name]: value };
  };
  return {
    market,
    pulsar,
    removalPolicy: removal === "retain" ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    chainId: optionalInteger(read, CONTEXT_KEYS.chainId) ?? 11155111,
    ...(allocSeconds === undefined ? {} : { allocSeconds }),
    logLevel: logLevel as LogLevel,
    allocatorSchedule: schedule(read, CONTEXT_KEYS.allocatorSchedule),
    verifierBridgeSchedule: schedule(read, CONTEXT_KEYS.verifierBridgeSchedule),
    ...optional(CONTEXT_KEYS.allocatorEntry, "allocatorEntry"),
    ...optional(CONTEXT_KEYS.verifierBridgeEntry, "verifierBridgeEntry"),
    ...optional(CONTEXT_KEYS.signerSecretArn, "signerSecretArn"),
    ...optional(CONTEXT_KEYS.alarmEmail, "alarmEmail"),
  };
}
