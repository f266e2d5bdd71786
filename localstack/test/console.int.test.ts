// The market console (issue 17) in a real browser: Debian's chromium (installed by
// localstack/scripts/ensure-chromium.sh where missing) driven by playwright-core, against a
// running local market in which one Supplier cheats and one Customer deposited nothing. The page
// must show the allocations with their mirrored states, the unfunded Customer's offer rejected
// with the front door's reason, and the Suppliers' reputations from the closes. Screenshots go to
// .data/console-screenshots/.
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { readStatuses } from "@surplus/adapters/pulsar";
import { chromium } from "playwright-core";
import { afterAll, describe, expect, inject, it } from "vitest";
import { type MarketConsole, startConsole } from "../src/console/server.ts";
import { LocalMarket } from "../src/market/harness.ts";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const SHOTS = join(ROOT, ".data/console-screenshots");

let market: LocalMarket | undefined;
let web: MarketConsole | undefined;
afterAll(async () => {
  await web?.close();
  await market?.stop();
});

describe("market console", () => {
  it("shows allocations with their states, a rejected offer with its reason and the Suppliers' reputation", async () => {
    const executablePath = execFileSync(join(ROOT, "localstack/scripts/ensure-chromium.sh"), {
      encoding: "utf8",
    }).trim();
    web = await startConsole(() => market);
    market = await LocalMarket.start(
      {
        pulsar: inject("pulsar"),
        dynamodbEndpoint: inject("dynamodbEndpoint"),
        chainRpcUrl: inject("chainRpcUrl"),
      },
      {
        resultWaitMs: 6_000,
        suppliers: [
          { name: "supplier A" },
          { name: "supplier C", strategy: { processProbability: 0.3, cheatMode: "skip", seed: 7 } },
        ],
        customers: [
          { name: "customer ppl", service: "people-counter", inputsPerSecond: 20, replicas: 2, seconds: 20 },
          {
            name: "customer broke",
            service: "bus-energy",
            inputsPerSecond: 10,
            replicas: 1,
            seconds: 20,
            deposit: 0n,
          },
        ],
      },
    );
    const m = market;
    const paying = m.customers.find((c) => c.p.name === "customer ppl")!;
    const deadline = Date.now() + 240_000;
    while (!paying.agent.finished() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 1_000));
    expect(paying.agent.finished()).toBe(true);
    await new Promise((r) => setTimeout(r, 2_500)); // the bridge's last pass

    // The unfunded Customer reads why on its own status channel (what `surplus-edge status --offers` shows).
    const broke = m.customers.find((c) => c.p.name === "customer broke")!;
    const own = await readStatuses(broke.p.bus, broke.p.address, { layout: m.layout });
    expect(own.map((s) => s.state)).toEqual(["rejected"]);
    expect(own[0]!.reason).toMatch(/insufficient free balance in the market/);
    const paid = await readStatuses(paying.p.bus, paying.p.address, { layout: m.layout });
    expect(paid.map((s) => s.state)).toEqual(["matched"]);

    mkdirSync(SHOTS, { recursive: true });
    const browser = await chromium.launch({ executablePath, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      await page.goto(web.url);
      await page.waitForSelector("body[data-loaded=true]", { timeout: 30_000 });
      await page.screenshot({ path: join(SHOTS, "console-full.png"), fullPage: true });

      const states = await page.locator("[data-allocation-state]").allTextContents();
      expect(states.length).toBeGreaterThan(0);
      expect(states.every((s) => s === "Closed")).toBe(true);
      const timeline = await page.locator("td.timeline").first().textContent();
      expect(timeline).toMatch(/AllocationOpened@\d+ → AllocationSigned@\d+.*AllocationClosed@\d+/);

      const rejected = page.locator("tr", { has: page.locator("[data-offer-state=rejected]") });
      await expect.poll(() => rejected.count()).toBeGreaterThan(0);
      const row = await rejected.first().textContent();
      expect(row).toContain("customer broke");
      expect(row).toMatch(/insufficient free balance in the market/);
      const matched = await page.locator("[data-offer-state=matched]").count();
      expect(matched).toBeGreaterThan(0);

      const repC = await page.locator("[data-reputation='supplier C']").textContent();
      const repA = await page.locator("[data-reputation='supplier A']").textContent();
      expect(repC).toMatch(/1 run, tests 0 passed \/ 1 failed, 1 disputed, 1 mediations lost/);
      expect(repA).toMatch(/1 run, tests 1 passed \/ 0 failed, 0 disputed, 0 mediations lost/);

      await expect.poll(() => page.locator("#balance-sum").textContent()).toBe("Σ of balance changes = 0");
      await page.locator("#offers").screenshot({ path: join(SHOTS, "console-offers.png") });
      await page.locator("#participants").screenshot({ path: join(SHOTS, "console-participants.png") });
    } finally {
      await browser.close();
    }
  }, 420_000);
});
