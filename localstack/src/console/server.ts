// The market console's web server (issue 17): a static page (no build step: plain HTML and an ES
// module) and a read-only JSON API over the running local market, on loopback only. Chart.js is
// served from its npm package as installed (the UMD bundle), so nothing is fetched at run time.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { toWire } from "@surplus/core";
import type { LocalMarket } from "../market/harness.ts";
import { snapshot, ThroughputSampler } from "./snapshot.ts";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, "../../..");

/** The files the page loads, by path: [file, content type]. */
const STATIC: Readonly<Record<string, readonly [string, string]>> = {
  "/": [join(HERE, "static/index.html"), "text/html; charset=utf-8"],
  "/app.js": [join(HERE, "static/app.js"), "text/javascript; charset=utf-8"],
  "/sigv4.js": [join(HERE, "static/sigv4.js"), "text/javascript; charset=utf-8"],
  "/style.css": [join(HERE, "static/style.css"), "text/css; charset=utf-8"],
  "/vendor/chart.umd.min.js": [
    join(ROOT, "node_modules/chart.js/dist/chart.umd.min.js"),
    "text/javascript; charset=utf-8",
  ],
};

export interface MarketConsole {
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves the console for the market `market()` returns (undefined while it starts: the page says
 * so). `port` 0 picks a free one.
 */
export async function startConsole(
  market: () => LocalMarket | undefined,
  options: { port?: number } = {},
): Promise<MarketConsole> {
  const sampler = new ThroughputSampler();
  sampler.start(market);
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://localhost").pathname;
    if (req.method !== "GET") {
      res.writeHead(405, { allow: "GET" }).end();
      return;
    }
    const file = STATIC[path];
    if (file) {
      try {
        res
          .writeHead(200, { "content-type": file[1], "cache-control": "no-cache" })
          .end(readFileSync(file[0]));
      } catch {
        res.writeHead(404).end();
      }
      return;
    }
    if (path === "/api/market") {
      snapshot(market(), sampler).then(
        (s) =>
          res
            .writeHead(200, { "content-type": "application/json", "cache-control": "no-store" })
            .end(toWire(s)),
        (error: unknown) =>
          res
            .writeHead(500, { "content-type": "text/plain" })
            .end(String((error as Error)?.message ?? error)),
      );
      return;
    }
    res.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(options.port ?? 0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: async () => {
      sampler.stop();
      server.closeAllConnections();
      await new Promise<void>((done) => server.close(() => done()));
    },
  };
}
