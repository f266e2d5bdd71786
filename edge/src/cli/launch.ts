// The runtime's own process settings. An edge device runs one long-lived `surplus-edge` process
// that sits idle most of the time, so what it keeps resident between bursts of work counts. Two
// glibc malloc settings make a difference there; both are read only when the process starts, so
// the runtime sets them by re-executing itself once, in place (process.execve: same pid, same
// stdio, nothing of the first image stays resident), before it loads anything else:
//
// - `MALLOC_ARENA_MAX=2`: each thread that mallocs (V8's compiler and GC helper threads) may get
//   an arena of its own whose freed pages stay resident; two are plenty for one JS thread.
// - `MALLOC_TRIM_THRESHOLD_=131072` (glibc's default value, fixed): left dynamic, glibc raises the
//   threshold to twice the largest block freed so far, so after startup frees its large buffers
//   (the bundle's source, parser zones) megabytes of free heap stay resident for good. Fixed, free
//   memory at the top of the heap goes back to the system.
//
// Measured (calibrate echo.wasm, idle once V8's memory reducer has run): ~77.5 MB without, ~71.5
// MB with; the Supplier path's CPU per input is unchanged (32.7 µs both, 5 runs each).
// A smaller V8 young generation (`--max-semi-space-size=1`) was measured too and is not set: it
// only trims the first seconds after startup (V8 shrinks the young generation of an idle process
// itself: 70.8 vs 71.5 MB settled) and costs the Supplier path ~7 % more CPU per input.
//
// Values the user set keep theirs; SURPLUS_EDGE_NODE_DEFAULTS=1 turns the re-execution off.

/** The environment the runtime runs with (glibc reads it at process start; others ignore it). */
export const RUNTIME_ENV = { MALLOC_ARENA_MAX: "2", MALLOC_TRIM_THRESHOLD_: "131072" } as const;

export interface ProcessFacts {
  readonly execPath: string;
  readonly execArgv: readonly string[];
  /** process.argv: [node, script, ...args] */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly platform: NodeJS.Platform;
  readonly canExecve: boolean;
}

/**
 * What to re-execute the current process as, or undefined when it already runs with the runtime's
 * settings (or the user's own), or re-execution is off, unavailable or pointless (not Linux).
 */
export function relaunchPlan(
  p: ProcessFacts,
): { file: string; args: string[]; env: NodeJS.ProcessEnv } | undefined {
  if (!p.canExecve || p.platform !== "linux" || p.env.SURPLUS_EDGE_NODE_DEFAULTS === "1") return undefined;
  const script = p.argv[1];
  if (!script) return undefined;
  const missing = Object.entries(RUNTIME_ENV).filter(([k]) => p.env[k] === undefined);
  // Nothing to add: relaunched already, or the user chose their own values.
  if (missing.length === 0) return undefined;
  return {
    file: p.execPath,
    args: [p.execPath, ...p.execArgv, script, ...p.argv.slice(2)],
    env: { ...p.env, ...Object.fromEntries(missing) },
  };
}

/** Re-executes the process with the runtime's settings (does not return then); otherwise a no-op. */
export function relaunchWithRuntimeSettings(): void {
  const plan = relaunchPlan({
    execPath: process.execPath,
    execArgv: process.execArgv,
    argv: process.argv,
    env: process.env,
    platform: process.platform,
    canExecve: typeof process.execve === "function",
  });
  if (!plan) return;
  try {
    process.execve!(plan.file, plan.args, plan.env);
  } catch {
    // Not allowed here (a sandbox that forbids execve, say): run on with the defaults.
  }
}

/** The runtime's settings this process runs with, for reports. */
export function runtimeSettings(): Record<string, string | null> {
  return Object.fromEntries(Object.keys(RUNTIME_ENV).map((k) => [k, process.env[k] ?? null]));
}
