// surplus-edge: the runtime a Supplier installs on its devices (and Customers and Mediators run).
import { readFileSync } from "node:fs";
import { createInterface } from "node:readline/promises";
import { parseArgs } from "node:util";
import { SurplusError } from "@surplus/core";
import { Isolation, ServiceSandbox, serviceHash } from "../sandbox/index.ts";
import { prng, syntheticFrame } from "../sources/index.ts";
import { loadConfig, readCredential } from "./config.ts";
import type { FundsAction } from "./funds.ts";
import { createKeystore, keystoreAddress } from "./keystore.ts";
import { runtimeSettings } from "./launch.ts";

const USAGE = `surplus-edge — the Surplus runtime for Suppliers, Customers and Mediators

Usage:
  surplus-edge init --keystore FILE         create a key in a new encrypted keystore
  surplus-edge address --keystore FILE      print the keystore's Ethereum address
  surplus-edge run --config FILE            run the configured role (supplier, customer or mediator)
               [--pretty] [--exit-when-done]   until Ctrl-C; JSON-lines logs (--pretty: readable)
  surplus-edge status --config FILE         what the runtime running with this config is doing
               [--data-dir DIR] [--json]      (or name its data directory instead)
               [--offers]                     and each offer's status and reason, from its status channel
                                              (without it: offers per state, from the same channel)
  surplus-edge balance --config FILE        the account's free balance in the market and its wallet's tokens
  surplus-edge deposit --config FILE AMOUNT move AMOUNT tokens (base units) from the wallet into the market
  surplus-edge withdraw --config FILE AMOUNT move AMOUNT of the free balance back to the wallet
  surplus-edge validate --config FILE       check a config file and say what is wrong
  surplus-edge hash SERVICE.wasm            print a service's id (keccak256 of its bytes)
  surplus-edge calibrate SERVICE.wasm       measure a service's throughput and memory in the sandbox
               [--seconds N] [--json] [--isolation inline|worker]
               [--idle-seconds N]              when to sample idle memory (default 15)

The keystore password is read from SURPLUS_KEYSTORE_PASSWORD, from the systemd credential
keystore-password ($CREDENTIALS_DIRECTORY/keystore-password), or asked for on the terminal.`;

/**
 * The keystore password: from the environment, from a systemd credential (LoadCredential= puts it
 * in a file only the service can read, so it is in neither the unit file nor the environment), or
 * typed on the terminal.
 */
export async function password(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  const fromEnv = env.SURPLUS_KEYSTORE_PASSWORD;
  if (fromEnv) return fromEnv;
  const credential = readCredential(env, "keystore-password");
  if (credential !== undefined) return credential;
  if (!process.stdin.isTTY)
    throw new SurplusError(
      "NO_PASSWORD",
      "set SURPLUS_KEYSTORE_PASSWORD or the systemd credential keystore-password (no terminal to ask on)",
    );
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return await rl.question("keystore password: ");
  } finally {
    rl.close();
  }
}

const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/**
 * Measures the runtime with a service: its resident memory idle, then the service's throughput flat
 * out for `seconds` on synthetic frames, and the peak resident memory meanwhile.
 *
 * Idle is the process as `run` would keep it between inputs: the agents and the channel layer
 * loaded (not connected), the service loaded and run once, nothing to do. It is sampled after
 * `idleSeconds`: V8 keeps what startup grew (the young generation, code) until its memory reducer
 * runs, about 8 s after startup's last full collection; a daemon idles far longer than that. The
 * figure at 0.5 s is reported too (`rssStartupMb`).
 */
async function calibrate(
  file: string,
  o: { seconds: number; idleSeconds: number; json: boolean; isolation: Isolation },
): Promise<void> {
  await import("./run.ts");
  const sandbox = ServiceSandbox.load(readFileSync(file), { isolation: o.isolation });
  try {
    const random = prng(1);
    const inputs = Array.from({ length: 256 }, () => syntheticFrame(random));
    await sandbox.process(inputs.slice(0, 1)); // the worker is up
    const loaded = performance.now();
    await new Promise((r) => setTimeout(r, 500));
    const rssStartup = process.memoryUsage().rss;
    await new Promise((r) => setTimeout(r, Math.max(0, o.idleSeconds * 1000 - (performance.now() - loaded))));
    const rssIdle = process.memoryUsage().rss;
    const started = performance.now();
    let done = 0;
    let rssLoaded = rssIdle;
    while (performance.now() - started < o.seconds * 1000) {
      await sandbox.process(inputs);
      done += inputs.length;
      rssLoaded = Math.max(rssLoaded, process.memoryUsage().rss);
    }
    const inputsPerSecond = Math.round(done / ((performance.now() - started) / 1000));
    const inputBytes = inputs[0]!.length;
    if (o.json) {
      console.log(
        JSON.stringify({
          inputsPerSecond,
          inputBytes,
          idleSeconds: o.idleSeconds,
          rssStartupMb: mb(rssStartup),
          rssIdleMb: mb(rssIdle),
          rssLoadedMb: mb(rssLoaded),
          settings: runtimeSettings(),
        }),
      );
    } else {
      console.log(
        `${file}: ${inputsPerSecond} inputs/s in the sandbox (${inputBytes}-byte frames); ` +
          `resident memory ${mb(rssIdle)} MB idle (${mb(rssStartup)} MB 0.5 s after loading), ` +
          `${mb(rssLoaded)} MB loaded`,
      );
    }
  } finally {
    await sandbox.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      keystore: { type: "string" },
      config: { type: "string" },
      seconds: { type: "string", default: "2" },
      "idle-seconds": { type: "string", default: "15" },
      json: { type: "boolean", default: false },
      pretty: { type: "boolean", default: false },
      "exit-when-done": { type: "boolean", default: false },
      isolation: { type: "string", default: "inline" },
      "data-dir": { type: "string" },
      offers: { type: "boolean", default: false },
      help: { type: "boolean", short: "h" },
    },
  });
  const [command, arg] = positionals;
  const need = (v: string | undefined, what: string): string => {
    if (!v) throw new SurplusError("USAGE", `${command} needs ${what}\n\n${USAGE}`);
    return v;
  };
  switch (values.help ? "help" : command) {
    case "init": {
      const path = need(values.keystore, "--keystore FILE");
      console.log(`created ${path} for ${await createKeystore(path, await password())}`);
      return 0;
    }
    case "address":
      console.log(keystoreAddress(need(values.keystore, "--keystore FILE")));
      return 0;
    case "run": {
      const config = loadConfig(need(values.config, "--config FILE"));
      // Loaded on demand: init, address, validate and hash do without the agents, the channel
      // layer and the contract's ABI (calibrate loads them to measure the runtime as run has it).
      const { run } = await import("./run.ts");
      return run(config, {
        pretty: values.pretty === true,
        exitWhenDone: values["exit-when-done"] === true,
        password,
      });
    }
    case "status": {
      const dir =
        values["data-dir"] ?? loadConfig(need(values.config, "--config FILE or --data-dir DIR")).dataDir;
      const { formatStatus, readStatus } = await import("./status.ts");
      const reading = readStatus(dir);
      console.log(values.json ? JSON.stringify(reading, null, 2) : formatStatus(reading));
      if (values.offers) {
        const { formatOfferStatuses, readOfferStatuses } = await import("./status.ts");
        const offers = await readOfferStatuses(loadConfig(need(values.config, "--config FILE")));
        console.log(values.json ? JSON.stringify(offers, null, 2) : formatOfferStatuses(offers));
      } else if (values.config && !values.json) {
        // The short form; a broker out of reach must not hide the local status above.
        const { formatOfferStatusesShort, readOfferStatuses } = await import("./status.ts");
        console.log(
          await readOfferStatuses(loadConfig(values.config)).then(formatOfferStatusesShort, (e: unknown) => {
            return `offer statuses:      status channel out of reach (${(e as Error).message ?? e})`;
          }),
        );
      }
      // 3, as `systemctl status` uses for a unit that is not running.
      return reading.state === "running" ? 0 : 3;
    }
    case "balance":
    case "deposit":
    case "withdraw": {
      const config = loadConfig(need(values.config, "--config FILE"));
      const { funds } = await import("./funds.ts");
      for (const line of await funds(config, command as FundsAction, arg, password)) console.log(line);
      return 0;
    }
    case "validate": {
      const config = loadConfig(need(values.config, "--config FILE"));
      console.log(`${values.config}: valid ${config.role} configuration`);
      return 0;
    }
    case "hash":
      console.log(serviceHash(readFileSync(need(arg, "SERVICE.wasm"))));
      return 0;
    case "calibrate":
      if (values.isolation !== Isolation.Inline && values.isolation !== Isolation.Worker) {
        throw new SurplusError("USAGE", `--isolation must be inline or worker, not ${values.isolation}`);
      }
      await calibrate(need(arg, "SERVICE.wasm"), {
        seconds: Number(values.seconds),
        idleSeconds: Number(values["idle-seconds"]),
        json: values.json === true,
        isolation: values.isolation,
      });
      return 0;
    case undefined:
    case "help":
      console.log(USAGE);
      return 0;
    default:
      throw new SurplusError("USAGE", `unknown command '${command}'\n\n${USAGE}`);
  }
}
