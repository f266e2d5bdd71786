import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { createKeystore, keystoreAddress, loadConfig, openKeystore } from "../src/cli/index.ts";
import { RUNTIME_ENV, relaunchPlan } from "../src/cli/launch.ts";

const dir = mkdtempSync(join(tmpdir(), "edge-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const validConfig = {
  role: "supplier",
  keystore: "key.json",
  pulsar: { url: "http://127.0.0.1:8080" },
  chain: { rpcUrl: "http://127.0.0.1:8545", market: "0x5FbDB2315678afecb367f032d93F642f64180aa3" },
  supplier: {
    capacityMips: 2000,
    ramMb: 512,
    minPricePerMi: "100",
    mediators: ["0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF"],
  },
};

function writeConfig(name: string, value: unknown): string {
  const file = join(dir, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

describe("edge configuration", () => {
  it("loads a valid file with defaults, resolving paths from the file's folder", () => {
    const config = loadConfig(writeConfig("ok.json", validConfig), {});
    expect(config.keystore).toBe(join(dir, "key.json"));
    expect(config.supplier?.strategy.processProbability).toBe(1);
    expect(config.pulsar.tenant).toBe("market");
  });

  it("names the field at fault", () => {
    expect(() =>
      loadConfig(
        writeConfig("bad.json", { ...validConfig, chain: { ...validConfig.chain, market: "0x12" } }),
        {},
      ),
    ).toThrow(/chain\.market: expected a 0x-prefixed 20-byte hex address/);
    expect(() =>
      loadConfig(writeConfig("nosupplier.json", { ...validConfig, supplier: undefined }), {}),
    ).toThrow(/a supplier needs a `supplier` section/);
    expect(() =>
      loadConfig(writeConfig("scheme.json", { ...validConfig, pulsar: { url: "ftp://x" } }), {}),
    ).toThrow(/pulsar\.url: expected a http: or https: URL/);
    writeFileSync(join(dir, "broken.json"), "{");
    expect(() => loadConfig(join(dir, "broken.json"), {})).toThrow(/invalid config/);
  });

  it("takes the Pulsar token from the environment", () => {
    const config = loadConfig(writeConfig("env.json", validConfig), { SURPLUS_PULSAR_TOKEN: "jwt" });
    expect(config.pulsar.token).toBe("jwt");
  });
});

describe("keystore", () => {
  it("keeps the key encrypted, opens with the password, refuses a wrong one and never overwrites", async () => {
    const path = join(dir, "key.json");
    const address = await createKeystore(path, "correct horse");
    expect(readFileSync(path, "utf8")).not.toMatch(/privateKey/);
    expect(keystoreAddress(path).toLowerCase()).toBe(address.toLowerCase());
    expect((await openKeystore(path, "correct horse")).address).toBe(address);
    await expect(openKeystore(path, "wrong password")).rejects.toThrow(/wrong password/);
    await expect(createKeystore(path, "correct horse")).rejects.toThrow(/not overwriting/);
  }, 30_000);
});

describe("the runtime's process settings", () => {
  const facts = {
    execPath: "/usr/bin/node",
    execArgv: ["--enable-source-maps"],
    argv: ["/usr/bin/node", "/opt/surplus-edge.mjs", "run", "--config", "c.json"],
    env: { PATH: "/usr/bin" },
    platform: "linux" as const,
    canExecve: true,
  };

  it("re-executes once with its allocator settings, the same node options, script and arguments", () => {
    const plan = relaunchPlan(facts);
    expect(plan).toEqual({
      file: "/usr/bin/node",
      args: ["/usr/bin/node", "--enable-source-maps", "/opt/surplus-edge.mjs", "run", "--config", "c.json"],
      env: { PATH: "/usr/bin", ...RUNTIME_ENV },
    });
    // The relaunched process has the settings: it goes on as it is.
    expect(relaunchPlan({ ...facts, env: plan!.env })).toBeUndefined();
  });

  it("keeps the user's own values, and stays as it is when told to or when it cannot re-execute", () => {
    const own = relaunchPlan({ ...facts, env: { MALLOC_ARENA_MAX: "8" } });
    expect(own?.env).toEqual({ ...RUNTIME_ENV, MALLOC_ARENA_MAX: "8" });
    expect(relaunchPlan({ ...facts, env: { ...RUNTIME_ENV, MALLOC_ARENA_MAX: "8" } })).toBeUndefined();
    expect(relaunchPlan({ ...facts, env: { SURPLUS_EDGE_NODE_DEFAULTS: "1" } })).toBeUndefined();
    expect(relaunchPlan({ ...facts, canExecve: false })).toBeUndefined();
    expect(relaunchPlan({ ...facts, platform: "darwin" })).toBeUndefined();
  });
});

describe("the bundled runtime", () => {
  it("runs as one self-contained file and computes a service's id", () => {
    const bundle = new URL("../dist/surplus-edge.mjs", import.meta.url).pathname;
    const wasm = new URL("../build/echo.wasm", import.meta.url).pathname;
    const out = execFileSync(process.execPath, [bundle, "hash", wasm], { encoding: "utf8" });
    expect(out.trim()).toMatch(/^0x[0-9a-f]{64}$/);
    // It ran with the runtime's own settings (re-executed in place).
    const calibrated = JSON.parse(
      execFileSync(
        process.execPath,
        [bundle, "calibrate", wasm, "--json", "--seconds", "0.2", "--idle-seconds", "0.5"],
        {
          encoding: "utf8",
          env: { ...process.env, MALLOC_ARENA_MAX: undefined, MALLOC_TRIM_THRESHOLD_: undefined },
        },
      ),
    ) as { settings: Record<string, string>; rssIdleMb: number; rssStartupMb: number };
    expect(calibrated.settings).toEqual(RUNTIME_ENV);
    expect(calibrated.rssIdleMb).toBeGreaterThan(0);
    expect(() => execFileSync(process.execPath, [bundle, "frobnicate"], { stdio: "pipe" })).toThrow(
      /unknown command 'frobnicate'/,
    );
    // The bundle keeps zod's English messages only (scripts/bundle.ts): they still read as zod wrote them.
    expect(() =>
      execFileSync(
        process.execPath,
        [bundle, "validate", "--config", writeConfig("role.json", { role: 5 })],
        {
          stdio: "pipe",
        },
      ),
    ).toThrow(/role: Invalid option: expected one of "supplier"\|"customer"\|"mediator"/);
  });
});
