// A small, dependency-free SVG line chart: title, labelled axes with units, nice ticks, grid,
// legend, optional min–max bands and reference lines. Enough for the experiments' figures.

export interface Series {
  readonly name: string;
  readonly color: string;
  readonly points: ReadonlyArray<readonly [number, number]>;
  /** Optional band around the line: [x, low, high]. */
  readonly band?: ReadonlyArray<readonly [number, number, number]>;
  readonly dash?: string;
  /** Draw a dot at each point. @default false */
  readonly markers?: boolean;
}

export interface ReferenceLine {
  readonly axis: "x" | "y";
  readonly at: number;
  readonly label: string;
  readonly color?: string;
}

export interface ChartSpec {
  readonly title: string;
  /** One line, or several. */
  readonly subtitle?: string | readonly string[];
  readonly xLabel: string;
  readonly yLabel: string;
  readonly series: readonly Series[];
  readonly references?: readonly ReferenceLine[];
  readonly xFormat?: (x: number) => string;
  readonly yFormat?: (y: number) => string;
  /** Force the axis ranges (otherwise the data's, padded, with nice ends). */
  readonly xDomain?: readonly [number, number];
  readonly yDomain?: readonly [number, number];
  readonly width?: number;
  readonly height?: number;
}

/** Colours that stay distinct for colour-blind readers (Okabe–Ito). */
export const PALETTE = [
  "#d55e00",
  "#e69f00",
  "#f0e442",
  "#009e73",
  "#56b4e9",
  "#0072b2",
  "#cc79a7",
  "#000000",
] as const;

const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmt = (v: number) => Number(v.toFixed(2)).toString();

/** Tick values 1, 2 or 5 × 10^k apart covering [lo, hi], about `count` of them. */
export function niceTicks(lo: number, hi: number, count = 6): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step)
    ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function domainOf(values: number[], pad: number): [number, number] {
  let lo = Math.min(...values);
  let hi = Math.max(...values);
  if (lo === hi) {
    lo -= 1;
    hi += 1;
  }
  const span = hi - lo;
  lo -= span * pad;
  hi += span * pad;
  const ticks = niceTicks(lo, hi);
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  return [Math.floor(lo / step) * step, Math.ceil(hi / step) * step];
}

/** Renders the chart as a standalone SVG document. */
export function lineChart(spec: ChartSpec): string {
  const W = spec.width ?? 760;
  const H = spec.height ?? 460;
  const legendWidth = 190;
  const subtitle =
    spec.subtitle === undefined ? [] : typeof spec.subtitle === "string" ? [spec.subtitle] : spec.subtitle;
  const m = { left: 86, right: legendWidth + 20, top: 48 + 18 * subtitle.length, bottom: 62 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const xs = spec.series.flatMap((s) => s.points.map(([x]) => x));
  const ys = spec.series.flatMap((s) => [
    ...s.points.map(([, y]) => y),
    ...(s.band ?? []).flatMap(([, lo, hi]) => [lo, hi]),
  ]);
  for (const r of spec.references ?? []) (r.axis === "x" ? xs : ys).push(r.at);
  const [x0, x1] = spec.xDomain ?? domainOf(xs, 0);
  const [y0, y1] = spec.yDomain ?? domainOf(ys, 0.04);
  const X = (x: number) => m.left + ((x - x0) / (x1 - x0)) * pw;
  const Y = (y: number) => m.top + ph - ((y - y0) / (y1 - y0)) * ph;
  const xf = spec.xFormat ?? fmt;
  const yf = spec.yFormat ?? fmt;
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12" role="img" aria-labelledby="title">`,
    `<title id="title">${esc(spec.title)}</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${m.left}" y="24" font-size="16" font-weight="bold">${esc(spec.title)}</text>`,
  );
  for (const [i, line] of subtitle.entries())
    out.push(`<text x="${m.left}" y="${44 + 17 * i}" fill="#555">${esc(line)}</text>`);
  // Grid and ticks.
  for (const t of niceTicks(y0, y1)) {
    if (t < y0 - 1e-9 || t > y1 + 1e-9) continue;
    out.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${Y(t)}" y2="${Y(t)}" stroke="#e5e5e5"/>`,
      `<text x="${m.left - 8}" y="${Y(t) + 4}" text-anchor="end">${esc(yf(t))}</text>`,
    );
  }
  for (const t of niceTicks(x0, x1, 8)) {
    if (t < x0 - 1e-9 || t > x1 + 1e-9) continue;
    out.push(
      `<line x1="${X(t)}" x2="${X(t)}" y1="${m.top}" y2="${m.top + ph}" stroke="#f0f0f0"/>`,
      `<line x1="${X(t)}" x2="${X(t)}" y1="${m.top + ph}" y2="${m.top + ph + 5}" stroke="#333"/>`,
      `<text x="${X(t)}" y="${m.top + ph + 19}" text-anchor="middle">${esc(xf(t))}</text>`,
    );
  }
  out.push(`<rect x="${m.left}" y="${m.top}" width="${pw}" height="${ph}" fill="none" stroke="#333"/>`);
  if (y0 < 0 && y1 > 0)
    out.push(
      `<line x1="${m.left}" x2="${m.left + pw}" y1="${Y(0)}" y2="${Y(0)}" stroke="#333" stroke-width="1"/>`,
    );
  out.push(
    `<text x="${m.left + pw / 2}" y="${H - 18}" text-anchor="middle" font-size="13">${esc(spec.xLabel)}</text>`,
    `<text transform="translate(20 ${m.top + ph / 2}) rotate(-90)" text-anchor="middle" font-size="13">${esc(spec.yLabel)}</text>`,
  );
  // Reference lines.
  for (const r of spec.references ?? []) {
    const c = r.color ?? "#666";
    if (r.axis === "x")
      out.push(
        `<line x1="${X(r.at)}" x2="${X(r.at)}" y1="${m.top}" y2="${m.top + ph}" stroke="${c}" stroke-dasharray="6 4"/>`,
        `<text x="${X(r.at) + 4}" y="${m.top + 14}" fill="${c}">${esc(r.label)}</text>`,
      );
    else
      out.push(
        `<line x1="${m.left}" x2="${m.left + pw}" y1="${Y(r.at)}" y2="${Y(r.at)}" stroke="${c}" stroke-dasharray="6 4"/>`,
        `<text x="${m.left + 6}" y="${Y(r.at) - 5}" fill="${c}">${esc(r.label)}</text>`,
      );
  }
  // Bands, then lines.
  out.push(`<g clip-path="none">`);
  for (const s of spec.series) {
    if (!s.band?.length) continue;
    const upper = s.band.map(([x, , hi]) => `${X(x).toFixed(1)},${Y(hi).toFixed(1)}`);
    const lower = [...s.band].reverse().map(([x, lo]) => `${X(x).toFixed(1)},${Y(lo).toFixed(1)}`);
    out.push(
      `<polygon points="${[...upper, ...lower].join(" ")}" fill="${s.color}" fill-opacity="0.18" stroke="none"/>`,
    );
  }
  for (const s of spec.series) {
    const d = s.points
      .map(([x, y], i) => `${i === 0 ? "M" : "L"}${X(x).toFixed(1)},${Y(y).toFixed(1)}`)
      .join("");
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2.2"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
    );
    if (s.markers)
      for (const [x, y] of s.points)
        out.push(`<circle cx="${X(x).toFixed(1)}" cy="${Y(y).toFixed(1)}" r="3.5" fill="${s.color}"/>`);
  }
  out.push(`</g>`);
  // Legend.
  const lx = m.left + pw + 18;
  out.push(`<g font-size="12">`);
  spec.series.forEach((s, i) => {
    const ly = m.top + 8 + i * 22;
    out.push(
      `<line x1="${lx}" x2="${lx + 26}" y1="${ly}" y2="${ly}" stroke="${s.color}" stroke-width="3"${s.dash ? ` stroke-dasharray="${s.dash}"` : ""}/>`,
      `<text x="${lx + 32}" y="${ly + 4}">${esc(s.name)}</text>`,
    );
  });
  out.push(`</g>`, `</svg>`);
  return `${out.join("\n")}\n`;
}
