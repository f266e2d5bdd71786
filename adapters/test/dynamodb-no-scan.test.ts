// The deployed functions' role grants item-level reads only, never Scan (infra's least-privilege
// test checks the grant). Code the Lambdas run must therefore never scan: the front door once
// scanned the participants table every round, which the deployed Allocator would have been denied.
// Only the local console's read model (market-view.ts, never deployed) may scan.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const dir = join(dirname(fileURLToPath(import.meta.url)), "../src/dynamodb");

describe("DynamoDB adapters the Lambdas use", () => {
  it("never Scan", () => {
    const scanning = readdirSync(dir)
      .filter((f) => f.endsWith(".ts") && f !== "market-view.ts")
      .filter((f) => /\b(ScanCommand|paginateScan)\b/.test(readFileSync(join(dir, f), "utf8")));
    expect(scanning).toEqual([]);
  });
});
