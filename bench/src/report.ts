// How every benchmark reports: a table on stdout (figure, target, verdict) and rows in
// bench/results/NAME.json. A missed target is printed as a miss, never hidden.
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export interface ResultRow {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  /** e.g. "<= 80" or ">= 5000"; absent when the row is reported for comparison only. */
  readonly target?: string;
  /** What the figure means, in a few words. */
  readonly note?: string;
}

export const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "results");

/** Whether `value` meets a target written as "<= x", ">= x", "< x" or "> x". */
export function meets(value: number, target: string): boolean {
  const m = /^\s*(<=|>=|<|>)\s*(-?[\d.]+)\s*$/.exec(target);
  if (!m) throw new Error(`unreadable target ${JSON.stringify(target)}`);
  const bound = Number(m[2]);
  switch (m[1]) {
    case "<=":
      return value <= bound;
    case ">=":
      return value >= bound;
    case "<":
      return value < bound;
    default:
      return value > bound;
  }
}

export function verdict(row: ResultRow): string {
  if (!row.target) return "";
  return meets(row.value, row.target) ? "met" : "MISSED";
}

/** Prints the rows as a table and writes them to bench/results/NAME.json. */
export function report(
  name: string,
  rows: readonly ResultRow[],
  context: Record<string, unknown> = {},
): void {
  const fmt = (v: number) =>
    Number.isInteger(v) ? v.toLocaleString("en-US") : v.toLocaleString("en-US", { maximumFractionDigits: 2 });
  const table = rows.map((r) => [
    r.name,
    `${fmt(r.value)} ${r.unit}`,
    r.target ? `${r.target} ${r.unit}` : "",
    verdict(r),
    r.note ?? "",
  ]);
  const header = ["row", "measured", "target", "", "what"];
  const widths = header.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join("  ")
      .trimEnd();
  console.log(`\n${name}\n${line(header)}\n${widths.map((w) => "-".repeat(w)).join("  ")}`);
  for (const t of table) console.log(line(t));
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(
    file,
    `${JSON.stringify({ name, measuredAt: new Date().toISOString(), context, rows }, null, 2)}\n`,
  );
  console.log(`\nwrote ${file}`);
}
