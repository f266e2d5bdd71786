// The runtime's own process settings. An edge device runs one long-lived `surplus-edge` process
// that sits idle most of the time, so what it keeps resident counts more than peak allocation
// speed. Two settings only take effect when the process starts, so the runtime sets them by
// re-executing itself once, in place (process.execve: same pid, same stdio, nothing of the first
// image stays resident), before it loads anything else:
//
// - `--max-semi-space-size=1` (MiB): V8's young generation grows its two semi-spaces up to 8 MiB
//   each once allocation picks up, and keeps them committed; startup alone (parsing the bundle,
//   building the schemas) grows them. The runtime's garbage is small and short-lived (a batch of
//   inputs, a message), so a 1 MiB nursery only means more, shorter scavenges.
// - `MALLOC_ARENA_MAX=2` (glibc): each thread that mallocs (V8's compiler and GC helpers) may get
//   an arena of its own whose freed pages stay resident; two are plenty for one JS thread.
// - `MALLOC_TRIM_THRESHOLD_=131072` (glibc's default value, fixed): left dynamic, glibc raises the
//   threshold to twice the largest block freed so far, so after startup frees its large buffers
//   (the bundle's source, parser zones) megabytes of free heap stay resident for good. Fixed, free
//   memory at the top of the heap goes back to the system.
//
// Measured with `surplus-edge calibrate` and `npm run bench:edge`; figures in the edge README
// section. A user who sets either setting (NODE_OPTIONS, the node command line, the environment)
// keeps theirs; SURPLUS_EDGE_NODE_DEFAULTS=1 turns the re-execution off altogether.

/** The V8 options the runtime runs with, and the environment it adds. */
export const RUNTIME_V8_OPTIONS = ["--max-semi-space-size=1"] as const;
export const RUNTIME_ENV = { MALLOC_ARENA_MAX: "2", MALLOC_TRIM_THRESHOLD_: "131072" } as const;

export interface ProcessFacts {
  readonly execPath: string;
  readonly execArgv: readonly string[];
  /** process.argv: [node, script, ...args] */
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  readonly canExecve: boolean;
}

/**
 * What to re-execute the current process as, or undefined when it already runs with the runtime's
 * settings (or the user's own, or re-execution is off or unavailable).
 */
export function relaunchPlan(
  p: ProcessFacts,
): { file: string; args: string[]; env: NodeJS.ProcessEnv } | undefined {
  if (!p.canExecve || p.env.SURPLUS_EDGE_NODE_DEFAULTS === "1") return undefined;
  const script = p.argv[1];
  if (!script) return undefined;
  const given = [...p.execArgv, p.env.NODE_OPTIONS ?? ""].join(" ").replaceAll("_", "-");
  const options = RUNTIME_V8_OPTIONS.filter((o) => !given.includes(o.slice(0, o.indexOf("="))));
  // Nothing left to add: already relaunched (or the user chose their own values).
  if (options.length === 0) return undefined;
  const env: NodeJS.ProcessEnv = { ...p.env };
  for (const [k, v] of Object.entries(RUNTIME_ENV)) env[k] ??= v;
  return {
    file: p.execPath,
    args: [p.execPath, ...options, ...p.execArgv, script, ...p.argv.slice(2)],
    env,
  };
}

/** Re-executes the process with the runtime's settings (does not return then); otherwise a no-op. */
export function relaunchWithRuntimeSettings(): void {
  const plan = relaunchPlan({
    execPath: process.execPath,
    execArgv: process.execArgv,
    argv: process.argv,
    env: process.env,
    canExecve: typeof process.execve === "function" && process.platform !== "win32",
  });
  if (plan) process.execve!(plan.file, plan.args, plan.env);
}
