// The verifier-bridge Lambda: on a schedule (once a minute) it runs a bridge pass (operator
// bridge.ts, composed by compose.ts) every second of its minute under a lease (operator cadence.ts).
// Its variables are operator/src/config.ts's schema, checked at load. Every pass is safe to retry or
// run concurrently (exactly-once event application, compare-and-set cursor): no idempotency wrapper.
import { Logger } from "@aws-lambda-powertools/logger";
import { Metrics } from "@aws-lambda-powertools/metrics";
import { DynamoLease } from "@surplus/adapters";
import { composeBridge, parseConfig, type RemainingTime, runCadence } from "@surplus/operator";
import { bridgeAdapters, tables } from "../shared/adapters.ts";
import { publishBridgeMetrics } from "../shared/telemetry.ts";

const logger = new Logger({ serviceName: "verifier-bridge" });
const metrics = new Metrics({ namespace: "Surplus", serviceName: "verifier-bridge" });
const config = parseConfig(process.env, "verifier-bridge");
const bridge = composeBridge(
  { startBlock: config.chain.startBlock, confirmations: config.chain.confirmations },
  await bridgeAdapters(config, process.env),
);
const { db, names } = tables(config);
const lease = new DynamoLease(db, names, "verifier-bridge");

export async function handler(
  event: { readonly id?: string; readonly time?: string },
  context?: RemainingTime & { awsRequestId?: string },
) {
  const started = Date.now();
  const run = await runCadence(
    async () => {
      const pass = await bridge.pass();
      if (pass.events > 0) logger.info("bridge pass done", { ...pass });
      return pass;
    },
    {
      lease,
      holder: context?.awsRequestId ?? event.id ?? `bridge-${started}`,
      slotStartMs: event.time ? Date.parse(event.time) : started,
      context,
      onError: (err) => logger.error("bridge pass failed", err as Error),
    },
    config.cadence,
  );
  const { stopped, waitedMs, failures } = run;
  const result = publishBridgeMetrics(metrics, run, Date.now() - started);
  logger.info("invocation done", {
    eventId: event.id,
    passes: run.rounds.length,
    failures,
    stopped,
    waitedMs,
  });
  return {
    ...result,
    toBlock: run.rounds.at(-1)?.toBlock,
    passes: run.rounds.length,
    failures,
    stopped,
    waitedMs,
  };
}
