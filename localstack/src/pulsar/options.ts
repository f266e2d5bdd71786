// Where the local broker lives and listens, and what its callers get back.
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "../../..");
/** The broker's pom.xml, standalone.conf, log4j2.xml and Maven settings. */
export const PULSAR_CONF_DIR = join(ROOT, "localstack/pulsar");

/** What clients need to talk to the local broker. */
export interface PulsarConnectionInfo {
  /** Web service (admin REST + WebSocket API): http://127.0.0.1:8080 */
  readonly webUrl: string;
  /** Binary protocol (Java clients, pulsar-perf): pulsar://127.0.0.1:6650 */
  readonly serviceUrl: string;
  /** A super-user ("admin") JWT. */
  readonly adminToken: string;
  /** The HS256 secret, base64, to mint participant tokens (mintParticipantToken in @surplus/adapters). */
  readonly tokenSecret: string;
  /** The same web service over TLS (https:// and wss://), with a self-signed certificate. */
  readonly webUrlTls: string;
  /** PEM of that certificate (it is its own CA): pass it as `tls.ca` to trust the broker. */
  readonly tlsCa: string;
}

export interface PulsarLocalOptions {
  /** @default .data/pulsar (or SURPLUS_PULSAR_DATA_DIR) */
  readonly dataDir?: string;
  /** @default 8080 (or SURPLUS_PULSAR_WEB_PORT) */
  readonly webPort?: number;
  /** @default 6650 (or SURPLUS_PULSAR_BROKER_PORT) */
  readonly brokerPort?: number;
  /** HTTPS/WSS port. @default 8443 (or SURPLUS_PULSAR_WEB_TLS_PORT) */
  readonly webTlsPort?: number;
  /** How long to wait for the broker to become ready. @default 240000 */
  readonly readyTimeoutMs?: number;
  /** Progress messages. @default to stderr */
  readonly log?: (line: string) => void;
}

export interface PulsarLocal extends PulsarConnectionInfo {
  readonly dataDir: string;
  readonly pid: number;
  /** False when an already running broker was reused. */
  readonly startedHere: boolean;
}

/** Raised when the broker cannot be started; the message says what to do. */
export class PulsarLocalError extends Error {
  override name = "PulsarLocalError";
}

export const defaultLog = (line: string) => process.stderr.write(`[pulsar] ${line}\n`);

export interface Resolved {
  dataDir: string;
  webPort: number;
  brokerPort: number;
  webTlsPort: number;
  webUrlTls: string;
  webUrl: string;
  serviceUrl: string;
  log: (line: string) => void;
}

export function resolveOptions(options: PulsarLocalOptions): Resolved {
  const dataDir = resolve(
    options.dataDir ?? process.env.SURPLUS_PULSAR_DATA_DIR ?? join(ROOT, ".data/pulsar"),
  );
  const webPort = options.webPort ?? Number(process.env.SURPLUS_PULSAR_WEB_PORT ?? 8080);
  const brokerPort = options.brokerPort ?? Number(process.env.SURPLUS_PULSAR_BROKER_PORT ?? 6650);
  const webTlsPort = options.webTlsPort ?? Number(process.env.SURPLUS_PULSAR_WEB_TLS_PORT ?? 8443);
  return {
    dataDir,
    webPort,
    brokerPort,
    webTlsPort,
    webUrlTls: `https://127.0.0.1:${webTlsPort}`,
    webUrl: `http://127.0.0.1:${webPort}`,
    serviceUrl: `pulsar://127.0.0.1:${brokerPort}`,
    log: options.log ?? defaultLog,
  };
}
