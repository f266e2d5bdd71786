// The market console's page: polls the read-only API and renders it (no framework, no build).
// Text goes in through textContent only: names and reasons come from the market, not from us.
// Served by ./surplus market it reads /api/market; deployed (infra's console stack) the bucket's
// /console-config.json names the API (a function URL with IAM auth) and the page signs its reads
// with the reader's AWS credentials, kept in this tab's sessionStorage only.
import { regionOf, signGet } from "./sigv4.js";

const $ = (id) => document.getElementById(id);
const short = (hex) => (hex && hex.length > 14 ? `${hex.slice(0, 8)}…${hex.slice(-4)}` : hex);

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  for (const c of children) e.append(c instanceof Node ? c : document.createTextNode(String(c ?? "")));
  return e;
}

function table(headers, rows) {
  return el(
    "table",
    {},
    el("thead", {}, el("tr", {}, ...headers.map((h) => el("th", {}, h)))),
    el(
      "tbody",
      {},
      ...rows.map((r) =>
        el("tr", {}, ...r.map((c) => (c instanceof Node && c.tagName === "TD" ? c : el("td", {}, c)))),
      ),
    ),
  );
}

const num = (v) => el("td", { class: "num" }, v);
const state = (s) => el("span", { class: `state state-${s}` }, s);

function renderOffers(offers) {
  const order = ["rejected", "open", "partly-matched", "matched", "expired-unmatched"];
  const sorted = [...offers].sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state));
  return table(
    ["status", "participant", "kind", "offer", "reason", "allocations"],
    sorted.map((o) => [
      el("td", { "data-offer-state": o.state }, state(o.state)),
      o.name,
      o.kind,
      el("code", {}, short(o.offerId)),
      o.reason ?? "—",
      o.allocations.map(short).join(", ") || "—",
    ]),
  );
}

function renderAllocations(allocations) {
  return table(
    ["allocation", "parties", "state (bridge's mirror)", "timeline", "verification", "payouts", "gas"],
    allocations.map((a) => [
      el("code", {}, short(a.id)),
      `Customer ${a.customer}; Suppliers (replicas) ${a.suppliers.join(", ")}; Mediator ${a.mediator}; price ${a.pricePerMi}/MI; n = ${a.testCount}`,
      el("td", { "data-allocation-state": a.state ?? "" }, a.state ?? "—"),
      el("td", { class: "timeline" }, a.timeline.map((h) => `${h.event}@${h.block}`).join(" → ") || "—"),
      a.verification ?? "—",
      a.payouts
        ? `${a.closeReason}: ${Object.entries(a.payouts)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}`
        : "—",
      a.gas.map((g) => `${g.call} ${g.gas}`).join(", ") || "—",
    ]),
  );
}

function renderParticipants(participants) {
  return table(
    ["participant", "kind", "balance", "change", "reputation"],
    participants.map((p) => {
      const r = p.reputation;
      const rep = r
        ? `${r.allocationsRun} run, tests ${r.testsPassed} passed / ${r.testsFailed} failed, ${r.disputes} disputed, ${r.mediationsLost} mediations lost, ${r.disputesLost} disputes lost, ${r.timeouts} timeouts`
        : "—";
      return [
        p.name,
        p.kind,
        num(p.balance),
        num(p.change ?? "—"),
        el("td", { "data-reputation": p.name }, rep),
      ];
    }),
  );
}

let latencyChart;
let throughputChart;
function renderPlots(s) {
  const stages = [...new Set(s.latencies.map((l) => l.stage))];
  const allocs = [
    ...new Set([...s.latencies.map((l) => l.allocation), ...s.throughput.map((t) => t.allocation)]),
  ];
  const latencyData = {
    labels: stages,
    datasets: allocs
      .filter((a) => s.latencies.some((l) => l.allocation === a))
      .map((a) => ({
        label: short(a),
        data: stages.map(
          (st) => s.latencies.find((l) => l.allocation === a && l.stage === st)?.seconds ?? null,
        ),
      })),
  };
  if (!latencyChart)
    latencyChart = new Chart($("latency-plot"), {
      type: "bar",
      data: latencyData,
      options: { animation: false },
    });
  else {
    latencyChart.data = latencyData;
    latencyChart.update();
  }
  const t0 = s.throughput[0]?.at ?? s.at;
  const throughputData = {
    datasets: allocs
      .filter((a) => s.throughput.some((t) => t.allocation === a))
      .map((a) => ({
        label: short(a),
        data: s.throughput
          .filter((t) => t.allocation === a)
          .map((t) => ({ x: (t.at - t0) / 1000, y: t.perSecond })),
        showLine: true,
      })),
  };
  const options = {
    animation: false,
    scales: { x: { type: "linear", title: { display: true, text: "seconds" } } },
  };
  if (!throughputChart)
    throughputChart = new Chart($("throughput-plot"), { type: "scatter", data: throughputData, options });
  else {
    throughputChart.data = throughputData;
    throughputChart.update();
  }
}

const CREDENTIALS = "surplus-console-credentials";
/** The deployed API's URL from the console's own config (null locally: no such file). */
let api;
async function apiUrl() {
  if (api === undefined) {
    const r = await fetch("/console-config.json").catch(() => undefined);
    api = r?.ok ? ((await r.json()).api ?? null) : null;
  }
  return api;
}

/** The deployed API wants a signed request: ask for credentials once per tab. */
function askCredentials() {
  const form = $("credentials");
  form.hidden = false;
  form.onsubmit = (e) => {
    e.preventDefault();
    const f = new FormData(form);
    const c = { accessKeyId: f.get("accessKeyId"), secretAccessKey: f.get("secretAccessKey") };
    if (f.get("sessionToken")) c.sessionToken = f.get("sessionToken");
    sessionStorage.setItem(CREDENTIALS, JSON.stringify(c));
    form.hidden = true;
    refresh();
  };
}

async function read() {
  const api = await apiUrl();
  if (!api) return (await fetch("/api/market")).json();
  const credentials = JSON.parse(sessionStorage.getItem(CREDENTIALS) ?? "null");
  if (!credentials) {
    askCredentials();
    throw new Error("the API needs AWS credentials allowed to read it");
  }
  const url = new URL("api/market", api).toString();
  const r = await fetch(url, { headers: await signGet(url, credentials, regionOf(url)) });
  if (r.status === 403) {
    sessionStorage.removeItem(CREDENTIALS);
    askCredentials();
  }
  if (!r.ok) throw new Error(`the API answered ${r.status}`);
  return r.json();
}

async function refresh() {
  try {
    const s = await read();
    if (s.phase === "starting") {
      $("phase").textContent = "the market is starting (services, contract, participants)…";
      return;
    }
    $("phase").textContent =
      `market contract ${s.market} — ${s.offers.length} offers, ${s.allocations.length} allocations — updated ${new Date(s.at).toLocaleTimeString()}`;
    const b = s.balanceCheck;
    $("balance-check").replaceChildren(
      ...(b
        ? [
            el("span", { class: b.ok ? "ok" : "bad", id: "balance-sum" }, `Σ of balance changes = ${b.sum}`),
            b.ok
              ? " — every token unit that moved went to a named party."
              : " — NOT zero: tokens are unaccounted for.",
          ]
        : ["free balances are shown per participant; changes since a start are known to a local run only."]),
    );
    $("offers").replaceChildren(renderOffers(s.offers));
    $("allocations").replaceChildren(renderAllocations(s.allocations));
    $("participants").replaceChildren(renderParticipants(s.participants));
    renderPlots(s);
    document.body.dataset.loaded = "true";
  } catch (error) {
    $("phase").textContent = `cannot reach the market (${error.message}); retrying…`;
  }
}

refresh();
setInterval(refresh, 2_000);
