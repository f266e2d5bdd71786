// The cloud cadence. EventBridge invokes a function at most once a minute, while the local market
// clears every second; so each scheduled invocation runs its round every `intervalMs` for its slot
// of the schedule (from the event's time to one period later, when the next invocation takes over),
// stopping early when less than `marginMs` of its Lambda time remains. A lease (DynamoLease in the
// cursors table) keeps it to one invocation at a time: a successor that arrives early waits for it.
// Each round stays idempotent on its own (compare-and-set cursors, conditional writes), so the
// lease is for cost and order, not safety.

import type { Clock, Lease, RemainingTime } from "./ports.ts";

export type { Clock, Lease, RemainingTime };

export interface Cadence {
  /** Time between the starts of two rounds. */
  readonly intervalMs: number;
  /** The schedule's period: an invocation's slot. */
  readonly periodMs: number;
  /** No round starts with less Lambda time than this left (a round's worst duration, and then some). */
  readonly marginMs: number;
  /** How often a waiting invocation asks for the lease. */
  readonly pollMs?: number;
}

export interface CadenceRun<T> {
  readonly rounds: readonly T[];
  /** Rounds that threw (passed to `onError`; the next round runs all the same). */
  readonly failures: number;
  /** Time spent waiting for the lease. */
  readonly waitedMs: number;
  readonly stopped: "slot" | "deadline" | "no-lease" | "single";
}

export const systemClock: Clock = {
  now: Date.now,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Runs `round` every `cadence.intervalMs` while holding `lease`, from now until the slot that
 * began at `slotStartMs` ends or the context's remaining time drops below the margin. Without a
 * context (a direct call), one round. Errors are handed to `onError` and counted; if every round
 * failed, the last error is thrown (the invocation fails and raises its alarm).
 */
export async function runCadence<T>(
  round: () => Promise<T>,
  run: {
    readonly lease: Lease;
    readonly holder: string;
    readonly slotStartMs: number;
    readonly context?: RemainingTime | undefined;
    readonly onError?: (err: unknown) => void;
  },
  cadence: Cadence,
  clock: Clock = systemClock,
): Promise<CadenceRun<T>> {
  const began = clock.now();
  const single = typeof run.context?.getRemainingTimeInMillis !== "function";
  const deadline = single ? began + cadence.marginMs : began + run.context!.getRemainingTimeInMillis();
  const slotEnd = run.slotStartMs + cadence.periodMs;
  const roomFor = () => deadline - clock.now() >= cadence.marginMs;

  while (!(await run.lease.acquire(run.holder, deadline, clock.now()))) {
    if (single || !roomFor())
      return { rounds: [], failures: 0, waitedMs: clock.now() - began, stopped: "no-lease" };
    await clock.sleep(cadence.pollMs ?? 200);
  }
  const waitedMs = clock.now() - began;
  const rounds: T[] = [];
  let failures = 0;
  let lastError: unknown;
  let stopped: CadenceRun<T>["stopped"] = single ? "single" : "slot";
  try {
    for (let tick = clock.now(); ; ) {
      try {
        rounds.push(await round());
      } catch (err) {
        failures++;
        lastError = err;
        run.onError?.(err);
      }
      if (single) break;
      // The next tick on the grid: a round longer than the interval skips the ticks it overran.
      tick += cadence.intervalMs * Math.max(1, Math.ceil((clock.now() - tick) / cadence.intervalMs));
      if (tick >= slotEnd) break;
      if (deadline - tick < cadence.marginMs) {
        stopped = "deadline";
        break;
      }
      await clock.sleep(Math.max(0, tick - clock.now()));
    }
  } finally {
    await run.lease.release(run.holder);
  }
  if (rounds.length === 0 && failures > 0) throw lastError;
  return { rounds, failures, waitedMs, stopped };
}

/** The rounds' reports added up: numbers summed, arrays concatenated, anything else the last one's. */
export function sumReports<T extends object>(reports: readonly T[]): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const r of reports)
    for (const [k, v] of Object.entries(r)) {
      const prev = out[k];
      if (typeof v === "number") out[k] = (typeof prev === "number" ? prev : 0) + v;
      else if (Array.isArray(v)) out[k] = [...(Array.isArray(prev) ? prev : []), ...v];
      else out[k] = v;
    }
  return out as Partial<T>;
}
