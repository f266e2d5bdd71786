// Containment: the sandbox survives services that trap, loop, exhaust memory, or reach outside.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { Isolation, ServiceRejectedError, ServiceSandbox, serviceHash } from "../src/index.ts";

const wasm = (name: string) => readFileSync(new URL(`../build/${name}.wasm`, import.meta.url));
const bytes = (...b: number[]) => new Uint8Array(b);

describe.each([Isolation.Inline, Isolation.Worker])("ServiceSandbox (%s isolation)", (isolation) => {
  it("refuses a module whose hash differs from the allocation's", () => {
    const echo = wasm("echo");
    expect(() => ServiceSandbox.load(echo, { expectedHash: serviceHash(wasm("people-counter")) })).toThrow(
      /differs from the allocation's/,
    );
    const ok = ServiceSandbox.load(echo, { expectedHash: serviceHash(echo) });
    return ok.close();
  });

  it("refuses a service that imports the clock, and bytes that are not WebAssembly", () => {
    expect(() => ServiceSandbox.load(wasm("test/clock"))).toThrow(/imports env.Date.now/);
    expect(() => ServiceSandbox.load(bytes(1, 2, 3))).toThrow(ServiceRejectedError);
  });

  it("fails only the input on which a service traps, and goes on", async () => {
    const sandbox = ServiceSandbox.load(wasm("test/trap"), { isolation });
    try {
      const results = await sandbox.process([bytes(1), bytes(2)]);
      expect(results.map((r) => r.ok)).toEqual([false, false]);
      expect(!results[0]!.ok && results[0]!.error).toMatch(/^trap: .*unreachable/);
      expect(sandbox.failures.trap).toBe(2);
    } finally {
      await sandbox.close();
    }
  });

  it("stops a service that loops forever within its time budget, and keeps the other inputs", async () => {
    const sandbox = ServiceSandbox.load(wasm("test/loop"), {
      timeBudgetMs: 50,
      batchSlackMs: 100,
      isolation,
    });
    try {
      const results = await sandbox.process([bytes(1), bytes(0xff), bytes(3)]);
      expect(results[0]).toEqual({ ok: true, output: bytes(1) });
      expect(results[1]).toEqual({ ok: false, error: "time budget exceeded (50 ms)" });
      expect(results[2]).toEqual({ ok: true, output: bytes(3) });
      expect(await sandbox.process([bytes(4)])).toEqual([{ ok: true, output: bytes(4) }]);
    } finally {
      await sandbox.close();
    }
  });

  it("caps a service's memory and recovers from exhausting it", async () => {
    const sandbox = ServiceSandbox.load(wasm("test/hog"), { memoryCapMb: 8, isolation });
    try {
      const [first, second] = await sandbox.process([bytes(1), bytes(2)]);
      expect(first).toEqual({ ok: false, error: "memory cap exceeded (8192 KiB)" });
      expect(second).toEqual(first);
      expect(sandbox.failures.memory).toBe(2);
    } finally {
      await sandbox.close();
    }
  });

  it("keeps no state from one input to the next", async () => {
    const sandbox = ServiceSandbox.load(wasm("echo"), { isolation });
    expect(sandbox.isolation).toBe(isolation);
    try {
      const big = new Uint8Array(100_000).fill(9);
      const [, small] = await sandbox.process([big, bytes(5)]);
      expect(small).toEqual({ ok: true, output: bytes(5) });
    } finally {
      await sandbox.close();
    }
  });
});
