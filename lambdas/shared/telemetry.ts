// What the handlers log and count (Powertools Logger and Metrics), kept out of the handlers so each
// stays a screen. The reports returned are JSON-safe (counts and ids, no bigint): the idempotency
// layer stores the allocator's.
import type { Logger } from "@aws-lambda-powertools/logger";
import { type Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import {
  type AcceptRoundOutcome,
  type BridgeRunResult,
  type CadenceRun,
  type RoundReport,
  sumReports,
} from "@surplus/operator";

/** Logs an offer round's refusals and outcome; its counts. */
export function logOfferRound(logger: Logger, report: RoundReport) {
  for (const r of report.rejected) logger.warn("offer rejected", { position: r.position, error: r.error });
  for (const r of report.refused) logger.warn("offer refused", r);
  if (report.statusError)
    logger.warn("offer statuses not published", {
      count: report.statusesUnpublished,
      error: report.statusError,
    });
  if (report.read > 0 || report.published > 0)
    logger.info("round done", { ...report, rejected: report.rejected.length });
  const { statusError: _, ...counts } = report;
  return { ...counts, rejected: report.rejected.length, refused: report.refused.length };
}

/** Logs an accept round's rejections, opens, lapses, strikes and failures; its counts. */
export function logAcceptRound(logger: Logger, a: AcceptRoundOutcome) {
  for (const r of a.rejected) logger.warn("accept rejected", { position: r.position, error: r.error });
  for (const o of a.opened)
    logger.info("allocation opened", {
      allocationId: o.allocationId,
      transactionHash: o.transactionHash,
      gasUsed: o.gasUsed.toString(),
      state: o.state,
    });
  for (const l of a.lapsed) logger.warn("allocation lapsed", l);
  // Parties to blame for a lapse are backed off (their offers sit out the next rounds).
  for (const s of a.struck) logger.warn("party backed off", s);
  for (const f of a.failed) logger.error("open failed", f);
  const accepts = {
    read: a.read,
    recorded: a.recorded,
    duplicates: a.duplicates,
    rejected: a.rejected.length,
    opened: a.opened.map((o) => o.allocationId),
    alreadyOpen: a.alreadyOpen.length,
    lapsed: a.lapsed.length,
    failed: a.failed.length,
  };
  if (a.read > 0) logger.info("accept round done", accepts);
  return accepts;
}

type AllocatorRound = ReturnType<typeof logOfferRound> & { accepts: ReturnType<typeof logAcceptRound> };

/** The invocation's metrics; the sums of its rounds. */
export function publishAllocatorMetrics(
  metrics: Metrics,
  run: CadenceRun<AllocatorRound>,
  durationMs: number,
) {
  const sum = sumReports(run.rounds);
  const accepts = sumReports(run.rounds.map((r) => r.accepts));
  const count = (name: string, value: number | undefined) =>
    metrics.addMetric(name, MetricUnit.Count, value ?? 0);
  count("Rounds", run.rounds.length);
  count("RoundFailures", run.failures);
  count("OffersRead", sum.read);
  count("OffersRejected", sum.rejected);
  count("Allocations", sum.allocations);
  count("VoidAllocations", sum.voids);
  count("CommitConflicts", sum.conflicts);
  count("AcceptsRead", accepts.read);
  count("AcceptsRecorded", accepts.recorded);
  count("AcceptsRejected", accepts.rejected);
  count("AllocationsOpened", (accepts.opened?.length ?? 0) + (accepts.alreadyOpen ?? 0));
  count("AllocationsLapsed", accepts.lapsed);
  count("OpenFailures", accepts.failed);
  metrics.addMetric("InvocationDuration", MetricUnit.Milliseconds, durationMs);
  metrics.publishStoredMetrics();
  return { ...sum, accepts };
}

/** The invocation's metrics; the passes' counts added up. */
export function publishBridgeMetrics(metrics: Metrics, run: CadenceRun<BridgeRunResult>, durationMs: number) {
  const result = sumReports(
    run.rounds.map(({ events, applied, duplicates, unknown }) => ({ events, applied, duplicates, unknown })),
  );
  const count = (name: string, value: number | undefined) =>
    metrics.addMetric(name, MetricUnit.Count, value ?? 0);
  count("Passes", run.rounds.length);
  count("PassFailures", run.failures);
  count("EventsRead", result.events);
  count("EventsApplied", result.applied);
  count("EventsDuplicate", result.duplicates);
  count("EventsUnknownAllocation", result.unknown);
  metrics.addMetric("InvocationDuration", MetricUnit.Milliseconds, durationMs);
  metrics.publishStoredMetrics();
  return result;
}
