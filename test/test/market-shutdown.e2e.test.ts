// Ctrl-C on `./surplus market | tee run.log` once left the Pulsar broker running as an orphan:
// the reader of the pipe died with the terminal's SIGINT, the market's next write failed with
// EPIPE, and that aborted its cleanup. This runs the README's command with stdout into a pipe,
// closes the pipe, interrupts it, and checks that every process the run started is gone.
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** Every live process below `root` (by parent pid, read from /proc). */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command's closing parenthesis: state, ppid, …
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // gone meanwhile
    }
  }
  const out: number[] = [];
  const walk = (pid: number) => {
    for (const c of children.get(pid) ?? []) {
      out.push(c);
      walk(c);
    }
  };
  walk(root);
  return out;
}

const alive = (pid: number) => {
  try {
    // A zombie is gone for our purpose (its parent has not reaped it yet).
    return !/^\S+ \(.*\) Z /.test(readFileSync(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return false;
  }
};

describe("./surplus market, interrupted with its output in a closed pipe", () => {
  it("stops every process it started and exits with 130", async () => {
    const child = spawn("bash", [join(ROOT, "surplus"), "market", "--seconds", "10"], {
      cwd: ROOT,
      // Its own chain port, next to the one the integration setup runs.
      env: { ...process.env, SURPLUS_CHAIN_PORT: "18745", FORCE_COLOR: "0" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((done) =>
      child.on("exit", (code, signal) => done({ code, signal })),
    );
    let output = "";
    child.stderr.on("data", (d) => {
      output += d;
    });
    // Wait until the participants and the operator loops run (a Supplier's offer is posted).
    await new Promise<void>((ready, failed) => {
      const timer = setTimeout(
        () => failed(new Error(`the market did not start:\n${output.slice(-2000)}`)),
        240_000,
      );
      child.stdout.on("data", (d) => {
        output += d;
        if (/supplier A\s+offers/.test(output)) {
          clearTimeout(timer);
          ready();
        }
      });
      child.on("exit", () => failed(new Error(`the market exited early:\n${output.slice(-2000)}`)));
    });
    const started = descendants(child.pid!);
    expect(started.length).toBeGreaterThan(0); // at least the chain node
    child.stdout.destroy(); // the reader goes away, as `tee` does on Ctrl-C
    await new Promise((r) => setTimeout(r, 300));
    child.kill("SIGINT");
    const { code } = await exited;
    expect(code, output.slice(-2000)).toBe(130);
    // Give the kernel a moment to reap what the run killed last.
    for (let i = 0; i < 50 && started.some(alive); i++) await new Promise((r) => setTimeout(r, 100));
    expect(started.filter(alive), `left running: ${started.filter(alive).join(", ")}`).toEqual([]);
  }, 360_000);
});
