// Participants run as their own `surplus-edge run` processes: their keystores and configs, the
// child process (its JSON log lines become the market's events), and stopping or killing it.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encryptKeystoreJsonSync, type Wallet } from "ethers";
import type { Participant } from "./participants.ts";
import { ROOT } from "./scenario.ts";

/** Keystore password of the local market's generated keystores (local development only). */
export const KEYSTORE_PASSWORD = "surplus-local-only";

/**
 * A keystore for the local market's throw-away keys, with a cheap scrypt (N = 2^12) so a
 * `surplus-edge` process starts in well under a second; `surplus-edge init` writes real ones.
 */
export function localKeystore(wallet: Wallet): string {
  return encryptKeystoreJsonSync(
    { address: wallet.address, privateKey: wallet.privateKey },
    KEYSTORE_PASSWORD,
    {
      scrypt: { N: 1 << 12 },
    },
  );
}

/**
 * Writes a keystore and `config` into `dir`, and runs `surplus-edge run` for `p` as a child
 * process; each of its log lines is passed to `record` as an event of `p`.
 */
export function spawnEdge(
  p: Participant,
  dir: string,
  config: Record<string, unknown>,
  record: (who: string, event: string, fields: Record<string, unknown>) => void,
): ChildProcess {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, "config.json");
  writeFileSync(file, JSON.stringify(config, null, 2));
  // A cheap scrypt for a local throw-away key; real keystores use `surplus-edge init`.
  writeFileSync(join(dir, "key.json"), localKeystore(p.wallet), { mode: 0o600 });
  const child = spawn(process.execPath, [join(ROOT, "edge/bin/surplus-edge.ts"), "run", "--config", file], {
    cwd: ROOT,
    env: {
      ...process.env,
      SURPLUS_KEYSTORE_PASSWORD: KEYSTORE_PASSWORD,
      SURPLUS_PULSAR_TOKEN: p.token,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  p.child = child;
  const lines = (chunk: Buffer, err: boolean) => {
    for (const line of chunk.toString().split("\n")) {
      if (!line) continue;
      try {
        const {
          event,
          time: _t,
          role: _r,
          name: _n,
          ...fields
        } = JSON.parse(line) as Record<string, unknown>;
        record(p.name, String(event), fields);
      } catch {
        record(p.name, err ? "stderr" : "stdout", { line });
      }
    }
  };
  child.stdout!.on("data", (c: Buffer) => lines(c, false));
  child.stderr!.on("data", (c: Buffer) => lines(c, true));
  child.on("exit", (code, signal) => record(p.name, "process.exited", { code, signal }));
  return child;
}

/** Kills a child at once (SIGKILL: no clean-up at all) and waits for it to exit. */
export async function killChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await gone;
}

/** Asks a running child to stop (SIGTERM), and kills it if it has not within 5 s. */
export async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await Promise.race([gone, new Promise((r) => setTimeout(r, 5_000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
}
