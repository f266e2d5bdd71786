// The cloud cadence on a fake clock: rounds every interval for the invocation's slot, a clean stop
// before the Lambda's deadline, one invocation at a time through the lease, errors counted.
import { describe, expect, it } from "vitest";
import { type Cadence, type Clock, type Lease, runCadence, sumReports } from "../src/cadence.ts";

const CADENCE: Cadence = { intervalMs: 1000, periodMs: 60_000, marginMs: 5000, pollMs: 200 };

function fakeClock(start = 1_000_000) {
  let now = start;
  const clock: Clock = {
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
  };
  return {
    clock,
    advance: (ms: number) => (now += ms),
    get now() {
      return now;
    },
  };
}

class MemoryLease implements Lease {
  holder: string | undefined;
  until = 0;
  async acquire(holder: string, untilMs: number, nowMs: number) {
    if (this.holder !== undefined && this.until >= nowMs && this.holder !== holder) return false;
    this.holder = holder;
    this.until = untilMs;
    return true;
  }
  async release(holder: string) {
    if (this.holder === holder) this.holder = undefined;
  }
}

/** A Lambda context whose remaining time counts down on the fake clock. */
const contextUntil = (t: ReturnType<typeof fakeClock>, deadline: number) => ({
  getRemainingTimeInMillis: () => deadline - t.now,
});

describe("runCadence", () => {
  it("runs a round every interval until its slot ends, then gives the lease back", async () => {
    const t = fakeClock();
    const lease = new MemoryLease();
    const starts: number[] = [];
    const run = await runCadence(
      async () => {
        starts.push(t.now);
        t.advance(300);
      },
      { lease, holder: "a", slotStartMs: t.now, context: contextUntil(t, t.now + 70_000) },
      CADENCE,
      t.clock,
    );
    expect(run.stopped).toBe("slot");
    expect(starts).toHaveLength(60);
    expect(starts.every((s, i) => s === starts[0]! + i * 1000)).toBe(true);
    expect(lease.holder).toBeUndefined();
  });

  it("starts no round with less than the margin left before the Lambda's timeout", async () => {
    const t = fakeClock();
    const deadline = t.now + 20_000;
    const starts: number[] = [];
    const run = await runCadence(
      async () => {
        starts.push(t.now);
        t.advance(100);
      },
      { lease: new MemoryLease(), holder: "a", slotStartMs: t.now, context: contextUntil(t, deadline) },
      CADENCE,
      t.clock,
    );
    expect(run.stopped).toBe("deadline");
    expect(starts).toHaveLength(16);
    expect(deadline - starts.at(-1)!).toBeGreaterThanOrEqual(CADENCE.marginMs);
  });

  it("a successor waits for the lease while its predecessor runs, and takes it when given back", async () => {
    const t = fakeClock();
    const lease = new MemoryLease();
    await lease.acquire("previous", t.now + 3000, t.now);
    // The predecessor gives the lease back 1.5 s later (its slot ended).
    let polls = 0;
    const waiting: Lease = {
      acquire: async (h, u, n) => {
        if (++polls === 8) await lease.release("previous");
        return lease.acquire(h, u, n);
      },
      release: (h) => lease.release(h),
    };
    const run = await runCadence(
      async () => "round",
      { lease: waiting, holder: "next", slotStartMs: t.now, context: contextUntil(t, t.now + 8000) },
      CADENCE,
      t.clock,
    );
    expect(run.waitedMs).toBe(1400);
    expect(run.rounds.length).toBeGreaterThan(0);
  });

  it("gives up without running when the lease stays taken until its own margin", async () => {
    const t = fakeClock();
    const lease = new MemoryLease();
    await lease.acquire("stuck", t.now + 600_000, t.now);
    let rounds = 0;
    const run = await runCadence(
      async () => rounds++,
      { lease, holder: "late", slotStartMs: t.now, context: contextUntil(t, t.now + 10_000) },
      CADENCE,
      t.clock,
    );
    expect(run).toMatchObject({ stopped: "no-lease", rounds: [] });
    expect(rounds).toBe(0);
    expect(lease.holder).toBe("stuck");
  });

  it("a lease whose holder died is taken once the holder's deadline has passed", async () => {
    const t = fakeClock();
    const lease = new MemoryLease();
    await lease.acquire("crashed", t.now + 2000, t.now);
    const run = await runCadence(
      async () => 1,
      { lease, holder: "next", slotStartMs: t.now, context: contextUntil(t, t.now + 9000) },
      CADENCE,
      t.clock,
    );
    expect(run.waitedMs).toBeGreaterThan(2000);
    expect(run.rounds.length).toBeGreaterThan(0);
  });

  it("a failed round is reported and the next one runs; all failing fails the invocation", async () => {
    const t = fakeClock();
    const errors: unknown[] = [];
    let n = 0;
    const run = await runCadence(
      async () => {
        if (n++ % 2 === 0) throw new Error("broker hiccup");
        return n;
      },
      {
        lease: new MemoryLease(),
        holder: "a",
        slotStartMs: t.now,
        context: contextUntil(t, t.now + 10_000),
        onError: (e) => errors.push(e),
      },
      CADENCE,
      t.clock,
    );
    expect(run.failures).toBe(3);
    expect(run.rounds).toEqual([2, 4, 6]);
    expect(errors).toHaveLength(3);
    const lease = new MemoryLease();
    await expect(
      runCadence(
        async () => {
          throw new Error("down");
        },
        { lease, holder: "b", slotStartMs: t.now, context: contextUntil(t, t.now + 8000) },
        CADENCE,
        t.clock,
      ),
    ).rejects.toThrow("down");
    expect(lease.holder).toBeUndefined();
  });

  it("without a Lambda context (a direct call) runs one round", async () => {
    const t = fakeClock();
    const run = await runCadence(
      async () => "x",
      { lease: new MemoryLease(), holder: "a", slotStartMs: t.now },
      CADENCE,
      t.clock,
    );
    expect(run).toMatchObject({ rounds: ["x"], stopped: "single" });
  });
});

describe("sumReports", () => {
  it("adds counts and concatenates lists", () => {
    expect(
      sumReports([
        { read: 2, opened: ["a"], note: "x" },
        { read: 3, opened: ["b"], note: "y" },
      ]),
    ).toEqual({ read: 5, opened: ["a", "b"], note: "y" });
  });
});
