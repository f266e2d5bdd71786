// Vitest glue (the only file here that knows vitest): the integration run's broker, shared with
// every test file through `inject("pulsar")` and SURPLUS_PULSAR_* env vars.
import type { TestProject } from "vitest/node";
import type { PulsarConnectionInfo } from "./options.ts";
import { startPulsar, stopPulsar } from "./process.ts";

declare module "vitest" {
  export interface ProvidedContext {
    pulsar: PulsarConnectionInfo;
  }
}

/** Exports the connection info to the environment of this process (inherited by test workers). */
export function exportToEnv(info: PulsarConnectionInfo): void {
  process.env.SURPLUS_PULSAR_WEB_URL = info.webUrl;
  process.env.SURPLUS_PULSAR_SERVICE_URL = info.serviceUrl;
  process.env.SURPLUS_PULSAR_ADMIN_TOKEN = info.adminToken;
  process.env.SURPLUS_PULSAR_TOKEN_SECRET = info.tokenSecret;
  process.env.SURPLUS_PULSAR_WEB_URL_TLS = info.webUrlTls;
  process.env.SURPLUS_PULSAR_TLS_CA = info.tlsCa;
}

/**
 * Vitest global setup (called by global-setup.ts): starts (or reuses) the broker once per run. A broker
 * started here is stopped at the end unless SURPLUS_PULSAR_KEEP=1; a reused one is left running.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const local = await startPulsar();
  const info: PulsarConnectionInfo = {
    webUrl: local.webUrl,
    serviceUrl: local.serviceUrl,
    adminToken: local.adminToken,
    tokenSecret: local.tokenSecret,
    webUrlTls: local.webUrlTls,
    tlsCa: local.tlsCa,
  };
  project.provide("pulsar", info);
  exportToEnv(info);
  return async () => {
    if (local.startedHere && !process.env.SURPLUS_PULSAR_KEEP) await stopPulsar();
  };
}
