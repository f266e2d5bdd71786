// The edge runtime as a device owner installs it (edge/README.md): the packed artifact
// (edge/scripts/pack.ts) installed with npm into an empty folder outside the workspace, with an
// empty home and npm cache and offline, then run as its systemd unit runs it — the unit's own
// ExecStart= line, the secrets handed over as LoadCredential= files in $CREDENTIALS_DIRECTORY, a
// data directory of its own, an environment with nothing but Node on PATH — as a Supplier of a
// local market. A Customer run from the same install buys its capacity; the Supplier must be paid,
// and `surplus-edge status` must show it, earning exactly what its market balance gained.
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { CloseReason } from "@surplus/contracts";
import type { Bytes32 } from "@surplus/core";
import { LocalMarket } from "@surplus/localstack/market";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const device = mkdtempSync(join(tmpdir(), "surplus-device-"));
const prefix = join(device, "opt/surplus-edge");
const etc = join(device, "etc/surplus-edge");
const state = join(device, "var/lib/surplus-edge");
const credentials = join(device, "run/credentials/surplus-edge.service");
/**
 * The device's Node: the test runner's, or another one's bin folder in SURPLUS_DEVICE_NODE_DIR
 * (e.g. a Node 22, the oldest the package declares).
 */
const deviceNode = process.env.SURPLUS_DEVICE_NODE_DIR ?? dirname(process.execPath);
/** Nothing from the workspace or the test runner: Node on PATH, an empty home. */
const deviceEnv = (extra: Record<string, string> = {}) => ({
  PATH: `${deviceNode}:/usr/bin:/bin`,
  HOME: join(device, "home"),
  ...extra,
});
const bin = () => join(prefix, "node_modules/.bin/surplus-edge");
/** The npm the device owner runs: the runner's, found on its PATH (the device's PATH is minimal). */
const npm = (process.env.PATH ?? "")
  .split(":")
  .map((d) => join(d, "npm"))
  .find((f) => existsSync(f));

const children: ChildProcess[] = [];
let market: LocalMarket | undefined;
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  await market?.stop();
  rmSync(device, { recursive: true, force: true });
});

interface Line {
  event: string;
  [k: string]: unknown;
}

/** Runs a command of the installed runtime as a daemon, collecting its JSON-lines log. */
function daemon(args: string[], env: Record<string, string>) {
  const lines: Line[] = [];
  let raw = "";
  const child = spawn(args[0]!, args.slice(1), {
    cwd: device,
    env: deviceEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  const onData = (d: Buffer) => {
    raw += d;
    for (const l of d.toString().split("\n")) {
      try {
        lines.push(JSON.parse(l) as Line);
      } catch {
        // a partial or non-JSON line: kept in `raw` for the failure message
      }
    }
  };
  child.stdout!.on("data", onData);
  child.stderr!.on("data", onData);
  const exited = new Promise<number | null>((r) => child.once("exit", (code) => r(code)));
  return { child, lines, exited, output: () => raw.slice(-12000) };
}

async function until<T>(
  what: string,
  probe: () => T | undefined | Promise<T | undefined>,
  ms: number,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

function status(config: string): { code: number; json: { state: string; snapshot?: Record<string, never> } } {
  try {
    const out = execFileSync(bin(), ["status", "--config", config, "--json"], {
      env: deviceEnv(),
      encoding: "utf8",
    });
    return { code: 0, json: JSON.parse(out) };
  } catch (e) {
    const err = e as { status: number; stdout: string };
    return { code: err.status, json: JSON.parse(err.stdout) };
  }
}

describe("the edge runtime as a device owner installs it", () => {
  let tarball: string;
  beforeAll(() => {
    // The build script the README names: builds the services and the bundle, packs them.
    const out = execFileSync(process.execPath, [join(ROOT, "edge/scripts/pack.ts")], {
      cwd: ROOT,
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    tarball = out.trim().split("\n").at(-1)!;
  }, 120_000);

  it("installs offline into an empty folder and, run as its systemd unit, gets paid as a Supplier", async () => {
    // 1. Install: an empty folder, an empty npm cache, no network.
    mkdirSync(prefix, { recursive: true });
    mkdirSync(join(device, "home"), { recursive: true });
    expect(npm, "npm on PATH").toBeDefined();
    execFileSync(
      npm!,
      [
        "install",
        "--prefix",
        prefix,
        "--offline",
        "--no-audit",
        "--no-fund",
        "--cache",
        join(device, "npm-cache"),
        tarball,
      ],
      { cwd: device, env: deviceEnv(), stdio: "pipe" },
    );
    // The artifact is self-contained: the runtime is the only package installed.
    expect(readdirSync(join(prefix, "node_modules")).filter((n) => !n.startsWith("."))).toEqual(["@surplus"]);
    const pkg = join(prefix, "node_modules/@surplus/edge");
    process.stderr.write(
      `device Node: ${execFileSync("node", ["--version"], { env: deviceEnv(), encoding: "utf8" })}`,
    );
    expect(
      execFileSync(bin(), ["hash", join(pkg, "services/people-counter.wasm")], {
        env: deviceEnv(),
        encoding: "utf8",
      }).trim(),
    ).toMatch(/^0x[0-9a-f]{64}$/);

    // 2. A market to join, with a funded Supplier account the operator admitted (its key and token).
    market = await LocalMarket.start(
      {
        pulsar: inject("pulsar"),
        dynamodbEndpoint: inject("dynamodbEndpoint"),
        chainRpcUrl: inject("chainRpcUrl"),
      },
      {
        suppliers: [],
        customers: [],
        parameters: { signingWindow: 30n, revealWindow: 60n, mediationWindow: 60n },
      },
      { dataDir: join(device, "market") },
    );
    const given = await market.attachConfigs(join(device, "operator"));
    const supplierGiven = JSON.parse(readFileSync(given.supplier, "utf8"));

    // 3. Configure it as edge/README.md says: the unit's credentials, the unit's data directory.
    const unit = readFileSync(join(pkg, "systemd/surplus-edge.service"), "utf8");
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(unit).toMatch(/^StateDirectory=surplus-edge$/m);
    // No secret in the unit itself: neither as a value nor through the environment.
    expect(unit).not.toMatch(/SURPLUS_KEYSTORE_PASSWORD|SURPLUS_PULSAR_TOKEN|^Environment/m);
    const loaded = Object.fromEntries(
      [...unit.matchAll(/^LoadCredential=([^:\n]+):(\S+)$/gm)].map((m) => [
        m[1]!,
        m[2]!.replace("/etc/surplus-edge", etc),
      ]),
    );
    expect(Object.keys(loaded).sort()).toEqual(["keystore", "keystore-password", "pulsar-token"]);
    mkdirSync(etc, { recursive: true });
    copyFileSync(join(dirname(given.supplier), "key.json"), loaded.keystore!);
    writeFileSync(loaded["keystore-password"]!, `${LocalMarket.KEYSTORE_PASSWORD}\n`, { mode: 0o600 });
    writeFileSync(loaded["pulsar-token"]!, `${supplierGiven.pulsar.token}\n`, { mode: 0o600 });
    // What systemd does at start: copies each credential into the service's credentials folder.
    mkdirSync(credentials, { recursive: true });
    for (const [name, file] of Object.entries(loaded)) copyFileSync(file, join(credentials, name));
    const example = JSON.parse(readFileSync(join(pkg, "examples/supplier.json"), "utf8"));
    const { token: _token, ...pulsar } = supplierGiven.pulsar;
    const config = join(etc, "config.json");
    writeFileSync(
      config,
      JSON.stringify({
        ...example,
        keystore: example.keystore.replace("/etc/surplus-edge", etc),
        dataDir: state,
        pulsar,
        chain: supplierGiven.chain,
        allocators: supplierGiven.allocators,
        services: supplierGiven.services,
        supplier: { ...example.supplier, mediators: supplierGiven.supplier.mediators },
      }),
    );
    expect(
      execFileSync(bin(), ["validate", "--config", config], { env: deviceEnv(), encoding: "utf8" }),
    ).toMatch(/valid supplier configuration/);
    expect(status(config)).toMatchObject({ code: 3, json: { state: "stopped" } });

    // Funds: tokens in the wallet (the test token mints to anyone), moved into the market.
    const account = execFileSync(bin(), ["address", "--keystore", loaded.keystore!], {
      env: deviceEnv(),
      encoding: "utf8",
    }).trim();
    await (await market.deployed.token.getFunction("mint")(account, 5000n)).wait();
    const funded = await market.balanceOf(account);
    // As edge/README.md runs them as root: the secrets' folder in /etc as the credentials folder.
    const credentialsEnv = deviceEnv({ CREDENTIALS_DIRECTORY: etc });
    expect(
      execFileSync(bin(), ["deposit", "--config", config, "5000"], { env: credentialsEnv, encoding: "utf8" }),
    ).toMatch(/^deposited 5000 /);
    expect(await market.balanceOf(account)).toBe(funded + 5000n);
    expect(
      execFileSync(bin(), ["balance", "--config", config], { env: deviceEnv(), encoding: "utf8" }),
    ).toMatch(new RegExp(`: ${funded + 5000n} free in the market, 0 in the wallet`));

    // 4. Run it as the unit's ExecStart= line does, with no secret in the environment.
    const execStart = /^ExecStart=(.+)$/m
      .exec(unit)![1]!
      .replace("/opt/surplus-edge", prefix)
      .replace("/etc/surplus-edge", etc)
      .split(" ");
    const supplier = daemon(execStart, { CREDENTIALS_DIRECTORY: credentials });
    const address = await until(
      "the Supplier to start",
      () => supplier.lines.find((l) => l.event === "started")?.address as string | undefined,
      60_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${supplier.output()}`);
    });
    await until("its offer", () => supplier.lines.find((l) => l.event === "offer.posted"), 30_000);
    const before = await market.balanceOf(address);
    const running = await until(
      "status to show its offer",
      () => {
        const s = status(config);
        return s.code === 0 && (s.json.snapshot as { offers: unknown[] } | undefined)?.offers.length === 1
          ? s
          : undefined;
      },
      20_000,
    );
    expect(running.json.state).toBe("running");
    const glance = execFileSync(bin(), ["status", "--config", config], {
      env: deviceEnv(),
      encoding: "utf8",
    });
    expect(glance).toMatch(new RegExp(`^running: supplier ${address} `));
    expect(glance).toMatch(/^offers open: +1 \(1100 MIPS now until/m);
    process.stderr.write(`surplus-edge status, after its offer:\n${glance}`);

    // 5. A Customer, from the same install, offering the people counter the package ships.
    const customerGiven = JSON.parse(readFileSync(given.customer, "utf8"));
    customerGiven.customer = {
      ...customerGiven.customer,
      service: join(pkg, "services/people-counter.wasm"),
      seconds: 10,
    };
    writeFileSync(given.customer, JSON.stringify(customerGiven));
    const customer = daemon([bin(), "run", "--config", given.customer, "--exit-when-done"], {
      SURPLUS_KEYSTORE_PASSWORD: LocalMarket.KEYSTORE_PASSWORD,
    });
    // Meanwhile `status` shows the allocation running and the inputs it processes per second.
    const seen = { running: 0, perSecond: 0 };
    let done = false;
    const watching = (async () => {
      while (!done) {
        const s = status(config).json.snapshot as
          | { running: number; inputs: { perSecond: number } }
          | undefined;
        seen.running = Math.max(seen.running, s?.running ?? 0);
        seen.perSecond = Math.max(seen.perSecond, s?.inputs.perSecond ?? 0);
        await new Promise((r) => setTimeout(r, 1_000));
      }
    })();
    const code = await Promise.race([
      customer.exited,
      new Promise((r) => setTimeout(() => r("timeout"), 150_000)),
    ]);
    done = true;
    await watching;
    expect(code, `customer:\n${customer.output()}\nsupplier:\n${supplier.output()}`).toBe(0);

    // 6. Paid: the allocation settled, its market balance rose, and status says so to the unit.
    const id = supplier.lines.find((l) => l.event === "allocation.received")?.allocation as Bytes32;
    expect(supplier.lines.some((l) => l.event === "result.posted" && l.allocation === id)).toBe(true);
    expect(await market.closeReasonOf(id), `customer:\n${customer.output()}`).toBe(CloseReason.Settled);
    expect(seen.running).toBe(1);
    // 20 inputs/s for 10 s, measured over ~5 s intervals that may straddle the stream's start or
    // end (a backlog worked off in one interval reads higher; a unit mistake reads 1000× off).
    expect(seen.perSecond).toBeGreaterThan(0);
    expect(seen.perSecond).toBeLessThanOrEqual(100);
    const gained = (await market.balanceOf(address)) - before;
    expect(gained).toBeGreaterThan(0n);
    const paid = await until(
      "status to show the earnings",
      () => {
        const s = status(config).json.snapshot as
          | { money: { earned: string; fined: string; closed: number }; inputs: { total: number } }
          | undefined;
        return s && s.money.closed === 1 ? s : undefined;
      },
      30_000,
    );
    expect(BigInt(paid.money.earned)).toBe(gained);
    expect(paid.money.fined).toBe("0");
    expect(paid.inputs.total).toBeGreaterThan(0);
    process.stderr.write(
      `surplus-edge status, once paid:\n${execFileSync(bin(), ["status", "--config", config], { env: deviceEnv(), encoding: "utf8" })}`,
    );

    // 7. Stopped as systemd stops it (SIGTERM): a clean exit, and status says nothing runs.
    supplier.child.kill("SIGTERM");
    expect(await supplier.exited).toBe(0);
    const after = status(config);
    expect(after.code).toBe(3);
    expect(after.json.state).toBe("stopped");
    expect(existsSync(join(state, "status.json"))).toBe(true);

    // What it earned, out of the market into the wallet.
    expect(
      execFileSync(bin(), ["withdraw", "--config", config, gained.toString()], {
        env: credentialsEnv,
        encoding: "utf8",
      }),
    ).toMatch(new RegExp(`^withdrew ${gained} [^]*: ${before} free in the market, ${gained} in the wallet`));
  }, 300_000);
});
