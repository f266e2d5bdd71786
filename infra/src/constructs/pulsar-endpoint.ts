import type * as secretsmanager from "aws-cdk-lib/aws-secretsmanager";
import { SurplusConfigError } from "../errors.ts";

/** Where the market's Pulsar is and how its operator-side functions authenticate to it. */
export interface PulsarEndpoint {
  /**
   * Binary protocol URL for native clients, e.g. `pulsar+ssl://pulsar.city.example:6651`, where
   * one is offered (a managed service); undefined for the self-run broker.
   */
  readonly serviceUrl: string | undefined;
  /**
   * Web service URL: admin REST (topics, grants) and WebSocket, which the market's clients use,
   * e.g. `https://pulsar.city.example:8443`.
   */
  readonly adminUrl: string;
  /** Secrets Manager secret whose string value is the admin token (a JWT). */
  readonly tokenSecret: secretsmanager.ISecret;
  /** The token secret's name, or its complete ARN when it was imported. */
  readonly tokenSecretId: string;
}

/**
 * How the market functions reach Pulsar, as plain values: the functions' stack looks the secret
 * up by name instead of importing an export, so the messaging stack can replace its resources
 * without first touching the functions (and a CloudFormation without Secrets Manager support,
 * like moto's, can still deploy both).
 */
export interface PulsarConnection {
  readonly serviceUrl: string | undefined;
  readonly adminUrl: string;
  /** Name, or complete ARN, of the secret holding the admin token. */
  readonly tokenSecretId: string;
}

/** Checks a Pulsar binary-protocol URL; plaintext `pulsar://` only when explicitly allowed. */
export function validateServiceUrl(where: string, url: string, allowPlaintext: boolean): void {
  const match = /^(pulsar|pulsar\+ssl):\/\/[A-Za-z0-9.-]+(:\d{1,5})?(,[A-Za-z0-9.-]+(:\d{1,5})?)*\/?$/.exec(
    url,
  );
  if (!match) {
    throw new SurplusConfigError(
      `${where}: serviceUrl must look like pulsar+ssl://host:6651 (comma-separated hosts allowed), got "${url}"`,
    );
  }
  if (match[1] === "pulsar" && !allowPlaintext) {
    throw new SurplusConfigError(
      `${where}: serviceUrl "${url}" is plaintext; use pulsar+ssl:// or set allowPlaintext for a private network`,
    );
  }
}

/** Checks the admin REST URL; plaintext `http://` only when explicitly allowed. */
export function validateAdminUrl(where: string, url: string, allowPlaintext: boolean): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new SurplusConfigError(`${where}: adminUrl must be an https:// URL, got "${url}"`);
  }
  if (parsed.protocol !== "https:" && !(allowPlaintext && parsed.protocol === "http:")) {
    throw new SurplusConfigError(`${where}: adminUrl must be an https:// URL, got "${url}"`);
  }
}
