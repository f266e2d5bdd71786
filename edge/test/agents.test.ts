// The agents' building blocks that need no services: the per-allocation store a restart resumes
// from, content-addressed service stores, the Customer's sources, and the daemon's configuration
// and start-up errors.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { type Allocation, type Bytes32, SCHEMA_VERSION } from "@surplus/core";
import { Wallet } from "ethers";
import { afterAll, describe, expect, it } from "vitest";
import {
  AllocationStore,
  directoryServices,
  feedInputs,
  fileSource,
  firstOf,
  generatorSource,
  httpServices,
  lineSource,
  loadConfig,
  prepareTestPlan,
  run,
  serviceHash,
  tapTests,
} from "../src/index.ts";

const dir = mkdtempSync(join(tmpdir(), "edge-agents-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const wasm = (name: string) =>
  new Uint8Array(readFileSync(new URL(`../build/${name}.wasm`, import.meta.url)));
const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}` as const;

const allocation: Allocation = {
  schemaVersion: SCHEMA_VERSION,
  allocator: addr(1),
  customer: addr(2),
  suppliers: [addr(3)],
  mediator: addr(4),
  customerOffer: `0x${"11".repeat(32)}`,
  supplierOffers: [`0x${"22".repeat(32)}`],
  serviceHash: `0x${"33".repeat(32)}`,
  start: 1_800_000_000,
  end: 1_800_000_060,
  pricePerMi: 10n ** 18n,
  miPerInput: 50,
  inputsPerSecond: 20,
  testCount: 24,
  minReplicas: 1,
  nonce: 7n,
};

describe("AllocationStore", () => {
  it("gives back what was saved, bigints included, and skips a document that does not parse", () => {
    const store = new AllocationStore<{ phase: string; nextSeq: string }>(join(dir, "allocations"));
    const id = `0x${"ab".repeat(32)}` as Bytes32;
    store.save({ id, allocation, seenAtMs: 5, state: { phase: "streaming", nextSeq: "40" } });
    store.save({ id, allocation, seenAtMs: 5, state: { phase: "streamed", nextSeq: "1200" } });
    writeFileSync(join(dir, "allocations", `0x${"cd".repeat(32)}.json`), "{ torn");
    const bad: string[] = [];
    const loaded = store.load(
      (raw) => raw as { phase: string; nextSeq: string },
      (file) => bad.push(file),
    );
    expect(loaded).toHaveLength(1);
    expect(loaded[0]!.allocation).toEqual(allocation);
    expect(loaded[0]!.state).toEqual({ phase: "streamed", nextSeq: "1200" });
    expect(bad).toEqual([`0x${"cd".repeat(32)}.json`]);
  });
});

describe("service stores", () => {
  it("find a module by its hash in a folder, and refuse bytes that hash otherwise", async () => {
    const services = join(dir, "services");
    const echo = wasm("echo");
    const hash = serviceHash(echo);
    writeFileSync(join(dir, "echo.wasm"), echo);
    expect(await directoryServices(dir).get(hash)).toEqual(echo);
    // A file named as another service's hash is refused.
    const other = serviceHash(wasm("bus-energy"));
    writeFileSync(join(dir, `${other}.wasm`), echo);
    await expect(directoryServices(dir).get(other)).rejects.toThrow(/hashes to .* not .*: refused/);
    await expect(directoryServices(services).get(`0x${"00".repeat(32)}`)).rejects.toThrow(/not found/);
  });

  it("fetch <base>/<hash>.wasm over HTTP, checked the same way, and fall back in order", async () => {
    const echo = wasm("echo");
    const hash = serviceHash(echo);
    const fake = (async (url: string) =>
      url.endsWith(`${hash}.wasm`)
        ? new Response(echo)
        : new Response("no", { status: 404 })) as typeof fetch;
    expect(await httpServices("https://services.example/", fake).get(hash)).toEqual(echo);
    const lying = (async () => new Response(wasm("bus-energy"))) as unknown as typeof fetch;
    await expect(httpServices("https://evil.example", lying).get(hash)).rejects.toThrow(/refused/);
    expect(
      await firstOf(httpServices("https://evil.example", lying), directoryServices(dir)).get(hash),
    ).toEqual(echo);
  });
});

describe("the Customer's sources", () => {
  it("a generator is deterministic for a seed", async () => {
    const a = generatorSource("telemetry", 9);
    const b = generatorSource("telemetry", 9);
    const live = [await a.next(), await a.next()];
    expect([await b.next(), await b.next()]).toEqual(live);
    expect(live[0]).not.toEqual(live[1]);
  });

  it("a file gives one input per line, in order, starting over at the end", async () => {
    const file = join(dir, "inputs.txt");
    writeFileSync(file, "a\nbb\n\nccc\n");
    const s = fileSource(file);
    const got = [];
    for (let i = 0; i < 4; i++) got.push(new TextDecoder().decode(await s.next()));
    expect(got).toEqual(["a", "bb", "ccc", "a"]);
    writeFileSync(join(dir, "empty.txt"), "\n");
    expect(() => fileSource(join(dir, "empty.txt"))).toThrow(/has no lines/);
  });

  it("stdin: one input per line in order, then the last line repeats", async () => {
    const s = lineSource(Readable.from(["t1\nt2\nx\n", "y\n"]));
    const text = (u: Uint8Array) => new TextDecoder().decode(u);
    const got = [];
    for (let i = 0; i < 6; i++) got.push(text(await s.next()));
    expect(got).toEqual(["t1", "t2", "x", "y", "y", "y"]);
  });

  // Threat 8: a Supplier must not be able to tell a test from a live input. The Customer's stream
  // with its secret checklist is compared with the same source streamed with no tests at all, on
  // the same clock: every input in the same order, at the same time, with the same bytes; and the
  // inputs the Customer runs itself are exactly those the stream carried at the test positions.
  const lines = Array.from({ length: 37 }, (_, i) => `reading ${i} ${"x".repeat(i % 5)}`);
  const sources = {
    file: () => {
      const file = join(dir, "lines.txt");
      writeFileSync(file, `${lines.join("\n")}\n`);
      return fileSource(file);
    },
    stdin: () => lineSource(Readable.from([`${lines.join("\n")}\n`])),
  };
  for (const [kind, open] of Object.entries(sources)) {
    it(`${kind}: the test positions are ordinary live inputs — same order, same timing, same bytes`, async () => {
      const stream = async (sent?: Parameters<typeof feedInputs>[0]["sent"]) => {
        const source = open();
        let t = 1_000_000;
        const out: Array<{ seq: bigint; eventTimeMs: number; payload: Uint8Array }> = [];
        await feedInputs({
          publisher: { publish: async (batch) => void out.push(...batch) },
          inputsPerSecond: 20,
          total: 80n,
          source: () => source.next(),
          now: () => t,
          sleep: async (ms) => {
            t += ms;
          },
          ...(sent ? { sent } : {}),
        });
        return out;
      };
      const plan = prepareTestPlan(`0x${"c3".repeat(32)}`, 6, 80);
      const ran = new Map<bigint, Uint8Array>();
      const withTests = await stream(tapTests(plan, (seq, input) => ran.set(seq, input)));
      const without = await stream();
      expect(withTests).toEqual(without);
      expect(withTests.map((i) => i.seq)).toEqual(Array.from({ length: 80 }, (_, i) => BigInt(i)));
      expect(withTests.map((i) => new TextDecoder().decode(i.payload))).toEqual(
        Array.from({ length: 80 }, (_, i) => lines[kind === "file" ? i % 37 : Math.min(i, 36)]),
      );
      expect([...ran.keys()]).toEqual(plan.testSeqs);
      for (const [seq, input] of ran) expect(input).toEqual(withTests[Number(seq)]!.payload);
    });
  }
});

describe("surplus-edge run", () => {
  const key = join(dir, "key.json");
  const base = {
    keystore: "key.json",
    pulsar: { url: "http://127.0.0.1:9", token: "jwt" },
    chain: { rpcUrl: "http://127.0.0.1:9", market: addr(5) },
  };
  const customer = {
    service: "svc.wasm",
    miPerInput: 50,
    ramMb: 128,
    inputsPerSecond: 20,
    seconds: 30,
    maxPricePerMi: "3000000000",
    mediators: [addr(4)],
    source: { kind: "file" },
  };

  it("validates a customer's section, naming what is wrong", () => {
    const write = (v: unknown) => {
      const f = join(dir, `c-${Math.random()}.json`);
      writeFileSync(f, JSON.stringify(v));
      return f;
    };
    expect(() => loadConfig(write({ ...base, role: "customer" }), {})).toThrow(
      /a customer needs a `customer` section/,
    );
    expect(() => loadConfig(write({ ...base, role: "customer", customer }), {})).toThrow(
      /a file source needs a `path`/,
    );
    expect(() =>
      loadConfig(
        write({
          ...base,
          role: "customer",
          customer: { ...customer, source: { kind: "frames" }, minReplicas: 3 },
        }),
        {},
      ),
    ).toThrow(/minReplicas must not exceed replicas/);
    const ok = loadConfig(
      write({ ...base, role: "customer", customer: { ...customer, source: { kind: "frames" } } }),
      {},
    );
    expect(ok.customer?.service).toBe(join(dir, "svc.wasm"));
    expect(ok.services.dir).toBe(join(dir, ".surplus-edge", "services"));
  });

  it("says what is missing before starting: a Pulsar token, a reachable chain", async () => {
    writeFileSync(key, await Wallet.createRandom().encrypt("password!"));
    const file = join(dir, "s.json");
    const supplier = { capacityMips: 1000, ramMb: 256, minPricePerMi: "1", mediators: [addr(4)] };
    writeFileSync(
      file,
      JSON.stringify({ ...base, role: "supplier", supplier, pulsar: { url: base.pulsar.url } }),
    );
    const opts = {
      pretty: false,
      exitWhenDone: false,
      password: async () => "password!",
      out: () => undefined,
    };
    await expect(run(loadConfig(file, {}), opts)).rejects.toThrow(/no Pulsar token/);
    await expect(run(loadConfig(file, { SURPLUS_PULSAR_TOKEN: "jwt" }), opts)).rejects.toThrow(
      /cannot reach the chain at http:\/\/127.0.0.1:9/,
    );
  }, 60_000);
});
