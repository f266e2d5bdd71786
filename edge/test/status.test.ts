// `surplus-edge status` and the snapshot `run` writes for it; the secrets a systemd unit hands the
// runtime as credentials.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Allocation, Bytes32 } from "@surplus/core";
import { afterAll, describe, expect, it } from "vitest";
import { loadConfig } from "../src/cli/config.ts";
import { password } from "../src/cli/main.ts";
import {
  formatStatus,
  type MoneyReader,
  readStatus,
  SETTLEMENTS_FILE,
  STATUS_FILE,
  type StatusSnapshot,
  StatusWriter,
} from "../src/cli/status.ts";

const root = mkdtempSync(join(tmpdir(), "edge-status-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
const freshDir = () => {
  const d = join(root, `d${n++}`);
  mkdirSync(d);
  return d;
};

const ADDRESS = "0x2B5AD5c4795c026514f8317c7a215E218DcCD6cF";
const id = (i: number) => `0x${i.toString(16).padStart(64, "0")}` as Bytes32;
const allocation = {} as Allocation;

/** A chain whose allocations 1 and 2 closed: 1 paid 150 on a lock of 100, 2 paid 30 on a lock of 100. */
function fakeMoney(): MoneyReader & { asked: Bytes32[]; down: boolean } {
  const closed: Record<string, { payout: string; locked: string }> = {
    [id(1)]: { payout: "150", locked: "100" },
    [id(2)]: { payout: "30", locked: "100" },
  };
  return {
    asked: [],
    down: false,
    async balanceOf() {
      if (this.down) throw new Error("connection refused");
      return 1234n;
    },
    async settlement(i: Bytes32) {
      this.asked.push(i);
      return closed[i];
    },
  };
}

describe("the status snapshot `run` writes", () => {
  it("counts open offers, allocations by phase, the input rate, earnings and fines", async () => {
    const dir = freshDir();
    const t0 = 1_800_000_000_000;
    writeFileSync(
      join(dir, "offer.json"),
      JSON.stringify({ start: t0 / 1000 - 10, end: t0 / 1000 + 3600, capacityMips: 1100 }),
    );
    let processed = 0;
    const phases: Array<[number, string]> = [
      [1, "closed"],
      [2, "closed"],
      [3, "running"],
      [4, "accepted"],
    ];
    const money = fakeMoney();
    const writer = new StatusWriter(
      dir,
      {
        role: "supplier",
        address: ADDRESS,
        allocations: () => phases.map(([i, phase]) => ({ id: id(i), allocation, phase })),
        inputsTotal: () => processed,
      },
      money,
      5,
    );
    await writer.write(t0);
    processed = 200;
    const s = await writer.write(t0 + 5_000);
    const onDisk = JSON.parse(readFileSync(join(dir, STATUS_FILE), "utf8")) as StatusSnapshot;
    expect(onDisk).toEqual(s);
    expect(s.offers).toEqual([{ start: t0 / 1000 - 10, end: t0 / 1000 + 3600, capacityMips: 1100 }]);
    expect(s.allocations).toEqual({ closed: 2, running: 1, accepted: 1 });
    expect(s.running).toBe(1);
    expect(s.inputs).toEqual({ total: 200, perSecond: 40 });
    expect(s.money).toEqual({ balance: "1234", earned: "50", fined: "70", closed: 2 });
    // Each closed allocation is looked up on the chain once, and remembered across a restart.
    expect(money.asked).toEqual([id(1), id(2)]);
    expect(existsSync(join(dir, SETTLEMENTS_FILE))).toBe(true);
    const again = fakeMoney();
    again.down = true;
    const restarted = new StatusWriter(
      dir,
      {
        role: "supplier",
        address: ADDRESS,
        allocations: () => [],
        inputsTotal: () => 0,
      },
      again,
      5,
    );
    const after = await restarted.write(t0 + 4000 * 1000);
    expect(again.asked).toEqual([]);
    expect(after.money).toEqual({ balance: null, earned: "50", fined: "70", closed: 2 });
    // The offer's window is over by then.
    expect(after.offers).toEqual([]);
  });

  it("keeps an offer posted before a restart while its window lasts, next to the newer one", async () => {
    const dir = freshDir();
    const t0 = 1_800_000_000_000;
    const source = { role: "supplier", address: ADDRESS, allocations: () => [], inputsTotal: () => 0 };
    writeFileSync(join(dir, "offer.json"), JSON.stringify({ start: t0 / 1000, end: t0 / 1000 + 100 }));
    await new StatusWriter(dir, source, fakeMoney(), 5).write(t0);
    writeFileSync(join(dir, "offer.json"), JSON.stringify({ start: t0 / 1000 + 100, end: t0 / 1000 + 200 }));
    const s = await new StatusWriter(dir, source, fakeMoney(), 5).write(t0 + 50_000);
    expect(s.offers.map((o) => o.end)).toEqual([t0 / 1000 + 100, t0 / 1000 + 200]);
  });
});

describe("surplus-edge status", () => {
  const snapshotAt = (dir: string, at: number, pid = process.pid) => {
    const s: StatusSnapshot = {
      version: 1,
      role: "supplier",
      address: ADDRESS,
      pid,
      startedAt: new Date(at - 600_000).toISOString(),
      updatedAt: new Date(at).toISOString(),
      everySeconds: 5,
      offers: [{ start: at / 1000 - 60, end: at / 1000 + 3000, capacityMips: 1100 }],
      allocations: { running: 2, closed: 3 },
      running: 2,
      inputs: { total: 4200, perSecond: 40 },
      money: { balance: "999", earned: "5000", fined: "0", closed: 3 },
    };
    writeFileSync(join(dir, STATUS_FILE), JSON.stringify(s));
  };

  it("says plainly when no runtime ever ran in the data directory", () => {
    const dir = freshDir();
    const r = readStatus(dir);
    expect(r.state).toBe("stopped");
    expect(formatStatus(r)).toBe(`not running: no surplus-edge runtime has run with data directory ${dir}`);
  });

  it("shows a live runtime at a glance", () => {
    const dir = freshDir();
    const now = Date.now();
    snapshotAt(dir, now - 2_000);
    const r = readStatus(dir, now);
    expect(r.state).toBe("running");
    const text = formatStatus(r, now);
    expect(text).toMatch(
      new RegExp(`^running: supplier ${ADDRESS} \\(pid ${process.pid}, up 10 min, status 2 s old\\)`),
    );
    expect(text).toMatch(/offers open: +1 \(1100 MIPS now until/);
    expect(text).toMatch(/allocations running: 2 \(seen: 2 running, 3 closed\)/);
    expect(text).toMatch(/inputs per second: +40 \(4200 processed since start\)/);
    expect(text).toMatch(/earned so far: +5000 \(over 3 closed allocations\)/);
    expect(text).toMatch(/fined so far: +0/);
  });

  it("calls a runtime whose process is gone, or that stopped reporting, not running", () => {
    const dir = freshDir();
    const now = Date.now();
    snapshotAt(dir, now - 1_000, 424242);
    const gone = readStatus(dir, now, () => false);
    expect(gone.state).toBe("stopped");
    expect(formatStatus(gone, now)).toMatch(
      /^not running: .*\(process 424242 is gone\)\nlast status, 1 s ago:/,
    );
    snapshotAt(dir, now - 60_000);
    const hung = readStatus(dir, now, () => true);
    expect(hung.state).toBe("stopped");
    expect(formatStatus(hung, now)).toMatch(/has not reported for 60 s/);
  });
});

describe("secrets from systemd credentials", () => {
  it("reads the keystore password and the Pulsar token from $CREDENTIALS_DIRECTORY; the environment wins", async () => {
    const creds = freshDir();
    writeFileSync(join(creds, "keystore-password"), "correct horse battery\n");
    writeFileSync(join(creds, "pulsar-token"), "jwt-from-credential\n");
    expect(await password({ CREDENTIALS_DIRECTORY: creds })).toBe("correct horse battery");
    expect(await password({ CREDENTIALS_DIRECTORY: creds, SURPLUS_KEYSTORE_PASSWORD: "env" })).toBe("env");
    const file = join(creds, "config.json");
    writeFileSync(
      file,
      JSON.stringify({
        role: "mediator",
        keystore: "key.json",
        pulsar: { url: "http://127.0.0.1:8080", token: "jwt-in-file" },
        chain: { rpcUrl: "http://127.0.0.1:8545", market: "0x5FbDB2315678afecb367f032d93F642f64180aa3" },
      }),
    );
    expect(loadConfig(file, { CREDENTIALS_DIRECTORY: creds }).pulsar.token).toBe("jwt-from-credential");
    expect(loadConfig(file, {}).pulsar.token).toBe("jwt-in-file");
    // The keystore too: the service's user cannot read the root-only file the config names.
    expect(loadConfig(file, { CREDENTIALS_DIRECTORY: creds }).keystore).toBe(join(creds, "key.json"));
    writeFileSync(join(creds, "keystore"), "{}");
    expect(loadConfig(file, { CREDENTIALS_DIRECTORY: creds }).keystore).toBe(join(creds, "keystore"));
    // No credential, no terminal: a clear error rather than a hang.
    await expect(password({ CREDENTIALS_DIRECTORY: freshDir() })).rejects.toThrow(
      /SURPLUS_KEYSTORE_PASSWORD/,
    );
  });
});
