// Gas benchmark of the market contract on an in-process Hardhat network, next to the paper's
// Table 5 and, per function, the reference implementation's figures as measured in facts.md §2.
// Every figure of ours is measured in this run; nothing of ours is hard-coded. Whole reference
// lifecycles are not shown: they were never measured as lifecycles, only call by call.
//
//   node bench/src/gas.ts            print the tables, write bench/results/gas.json
//   node bench/src/gas.ts --check    also fail when a function grew > 2 % over contracts/gas-snapshot.json
//   node bench/src/gas.ts --update   rewrite contracts/gas-snapshot.json
//
// A "lifecycle" is every transaction the protocol needs for one allocation once the parties have
// funds in the market: `open` (with every Accept signature, submitted by the Allocator) + `settle`
// (+ `mediate` on the mediation path). Deposits and withdrawals are per party, not per allocation,
// and are reported as their own rows. Every party already holds a balance in the market (steady
// state); a party's first-ever credit costs 17,100 gas more (a zero → non-zero SSTORE).
// Times, salts and nonces are fixed, so the figures are deterministic.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { deployMarket, NO_RESULT, signAccept, signResult, toTerms } from "@surplus/contracts";
import { createInProcessNetwork } from "@surplus/contracts/network";
import {
  type Address,
  type Allocation,
  allocationId,
  type Bytes32,
  checklistCommitment,
  gamma,
  testSeqsHash,
} from "@surplus/core";
import { type Contract, keccak256, type TransactionReceipt, toUtf8Bytes, ZeroHash } from "ethers";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const SNAPSHOT = join(root, "contracts/gas-snapshot.json");
const RESULTS = join(root, "bench/results/gas.json");
const TOLERANCE = 0.02;
const BASE_TIME = 2_000_000_000;

/** The paper's Table 5, and the reference implementation's per-call figures (facts.md §2). */
const PAPER = {
  deploy: 4_054_778,
  open: 369_506 + 181_139 + 101_853 + 137_281 + 188_145, // CreateAllocation+AddSupplier+3 signs
  settle: 130_108 + 157_458, // PostOutput + ClearMarket
  lifecycleR1: 1_265_490,
  lifecycleR3: 766_098 + 499_392 * 3,
} as const;
const REFERENCE = {
  deploy: 1_959_323,
  open: 208_416 + 127_050 + 58_053 + 109_931 + 113_830,
  settle: 88_992 + 87_253,
  mediate: 87_944,
} as const;

/** The issue-14 gas budget: no lifecycle may cost more than before the adversarial redesign. */
const TARGETS = {
  lifecycle_r1_happy: 190_000,
  lifecycle_r3_happy: 250_000,
  lifecycle_r1_mediation: 240_000,
  deploy: 3_000_000,
} as const;

interface Row {
  readonly name: string;
  readonly gas: number;
  /** The paper's figure for the same work (Table 5), or null when it gives none. */
  readonly anchor: number | null;
  /** The most we accept, or null for rows without a target. */
  readonly target: number | null;
}

function say(msg: string): void {
  process.stderr.write(`[gas] ${msg}\n`);
}

function fixed(label: string): Bytes32 {
  return keccak256(toUtf8Bytes(label)) as Bytes32;
}

async function main(): Promise<void> {
  const check = process.argv.includes("--check");
  const update = process.argv.includes("--update");
  say("starting an in-process Hardhat network…");
  const net = await createInProcessNetwork();
  const { ethers, networkHelpers } = net;
  const [deployer, treasury, allocator, customer, mediator, s1, s2, s3] = await ethers.getSigners();
  if (!deployer || !treasury || !allocator || !customer || !mediator || !s1 || !s2 || !s3) {
    throw new Error("the in-process network has too few accounts");
  }
  const suppliers = [s1, s2, s3];
  await networkHelpers.time.increaseTo(BASE_TIME);

  say("deploying the market and a test token…");
  const deployed = await deployMarket(deployer, { treasury: treasury.address });
  const receiptOf = async (hash: string): Promise<TransactionReceipt> => {
    const r = await ethers.provider.getTransactionReceipt(hash);
    if (!r) throw new Error(`no receipt for ${hash}`);
    return r;
  };
  const deployGas = Number((await receiptOf(deployed.deployTransactions.market)).gasUsed);
  const measured = new Map<string, number>();
  measured.set("deploy", deployGas);

  const call = async (signer: typeof deployer, fn: string, ...args: unknown[]): Promise<number> => {
    const tx = await (deployed.market.connect(signer) as Contract).getFunction(fn)(...args);
    return Number((await tx.wait()).gasUsed);
  };

  say("funding the parties…");
  const funds = 10n ** 24n;
  for (const p of [treasury, allocator, customer, mediator, ...suppliers]) {
    const token = deployed.token.connect(p) as Contract;
    await (await token.getFunction("mint")(p.address, funds)).wait();
    await (await token.getFunction("approve")(deployed.marketAddress, funds)).wait();
    const g = await call(p, "deposit", funds / 2n);
    if (p === customer) measured.set("deposit_first", g);
  }
  measured.set("deposit", await call(customer, "deposit", funds / 4n));
  measured.set("withdraw", await call(customer, "withdraw", 10n ** 18n));

  let nonce = 0n;
  let now = await networkHelpers.time.latest();
  const makeDeal = async (r: number) => {
    nonce += 1n;
    const addr = (s: { address: string }) => s.address as Address;
    const a: Allocation = {
      schemaVersion: 1,
      allocator: addr(allocator),
      customer: addr(customer),
      suppliers: suppliers.slice(0, r).map(addr),
      mediator: addr(mediator),
      customerOffer: fixed(`customer offer ${nonce}`),
      supplierOffers: suppliers.slice(0, r).map((_, i) => fixed(`supplier offer ${nonce} ${i}`)),
      serviceHash: fixed("people-counter.wasm"),
      start: now + 60,
      end: now + 60 + 3_600,
      pricePerMi: 1_000_000n,
      miPerInput: 500,
      inputsPerSecond: 2,
      testCount: 8,
      minReplicas: r,
      nonce,
    };
    const id = allocationId(deployed.domain, a);
    const items = Array.from({ length: a.testCount }, (_, i) => ({
      seq: BigInt(i * 97 + 5),
      output: toUtf8Bytes(`count=${i}`),
    }));
    const salt = fixed(`salt ${nonce}`);
    const testSeqs = items.map((i) => i.seq);
    const g = gamma(id, salt, items);
    const commitment = checklistCommitment(id, salt, testSeqs);
    const sigs = {
      customer: await signAccept(customer, deployed.domain, id, commitment),
      commitment,
      mediator: await signAccept(mediator, deployed.domain, id),
      suppliers: await Promise.all(suppliers.slice(0, r).map((s) => signAccept(s, deployed.domain, id))),
    };
    const honest = await Promise.all(suppliers.slice(0, r).map((s) => signResult(s, deployed.domain, id, g)));
    const terms = toTerms(a);
    // The Customer's settle: terms, the opening of Γ (salt, seqsHash), γ_c, results, dispute mask.
    const settleArgs = (res: unknown[], disputed = 0) => [
      terms,
      salt,
      testSeqsHash(testSeqs),
      g,
      res,
      disputed,
    ];
    return { a, terms, id, gamma: g, sigs, honest, settleArgs };
  };
  const at = async (t: number) => {
    now = Math.max(t, (await networkHelpers.time.latest()) + 1);
    await networkHelpers.time.setNextBlockTimestamp(now);
  };

  // Warm-up: one lifecycle so that every party (and the treasury) already holds a market balance.
  {
    const d = await makeDeal(1);
    await at(now + 1);
    await call(allocator, "open", d.terms, d.sigs);
    await at(d.a.end + 1);
    await call(customer, "settle", ...d.settleArgs([NO_RESULT]));
    await at(now + 1);
    await call(mediator, "mediate", d.terms, d.gamma, 0, [NO_RESULT]);
  }

  say("lifecycle r=1, happy…");
  {
    const d = await makeDeal(1);
    await at(now + 1);
    const open = await call(allocator, "open", d.terms, d.sigs);
    await at(d.a.end + 1);
    const settle = await call(customer, "settle", ...d.settleArgs(d.honest));
    measured
      .set("open_r1", open)
      .set("settle_r1", settle)
      .set("lifecycle_r1_happy", open + settle);
  }
  say("lifecycle r=3, happy…");
  {
    const d = await makeDeal(3);
    await at(now + 1);
    const open = await call(allocator, "open", d.terms, d.sigs);
    await at(d.a.end + 1);
    const settle = await call(customer, "settle", ...d.settleArgs(d.honest));
    measured
      .set("open_r3", open)
      .set("settle_r3", settle)
      .set("lifecycle_r3_happy", open + settle);
  }
  say("lifecycle r=1, mediation (the Supplier sealed a wrong γ)…");
  {
    const d = await makeDeal(1);
    await at(now + 1);
    const open = await call(allocator, "open", d.terms, d.sigs);
    await at(d.a.end + 1);
    const wrong = [await signResult(s1, deployed.domain, d.id, fixed("wrong"))];
    const settle = await call(customer, "settle", ...d.settleArgs(wrong));
    await at(now + 60);
    const mediate = await call(mediator, "mediate", d.terms, d.gamma, 0, wrong);
    measured
      .set("settle_to_mediation_r1", settle)
      .set("mediate_r1", mediate)
      .set("lifecycle_r1_mediation", open + settle + mediate);
  }
  say("the other transitions…");
  {
    // Signing path: open with the Customer only, then two `sign`s; the last one makes it Running.
    const d = await makeDeal(2);
    const none = { customer: "0x", commitment: ZeroHash, mediator: "0x", suppliers: [] };
    await at(now + 1);
    measured.set(
      "open_r2_customer_only",
      await call(allocator, "open", d.terms, {
        ...none,
        customer: d.sigs.customer,
        commitment: d.sigs.commitment,
      }),
    );
    await at(now + 1);
    measured.set("sign_one", await call(s1, "sign", d.terms, { ...none, mediator: d.sigs.mediator }));
    await at(now + 1);
    measured.set("sign_last_two", await call(s1, "sign", d.terms, { ...none, suppliers: d.sigs.suppliers }));
    await at(now + 1);
    await at(d.a.end + 1);
    measured.set("settle_disputed_r2", await call(customer, "settle", ...d.settleArgs(d.honest, 1)));
    await at(now + 4_000);
    measured.set("expireMediation", await call(deployer, "expire", d.terms));
  }
  {
    const d = await makeDeal(1);
    await at(now + 1);
    await call(allocator, "open", d.terms, { ...d.sigs, suppliers: [] });
    await at(now + 601);
    measured.set("expireSigning_refund", await call(deployer, "expire", d.terms));
  }
  {
    const d = await makeDeal(1);
    await at(now + 1);
    await call(allocator, "open", d.terms, d.sigs);
    await at(d.a.end + 3_601);
    measured.set("expireReveal", await call(deployer, "expire", d.terms));
  }

  const rows: Row[] = [
    {
      name: "lifecycle_r1_happy",
      gas: measured.get("lifecycle_r1_happy")!,
      anchor: PAPER.lifecycleR1,
      target: TARGETS.lifecycle_r1_happy,
    },
    {
      name: "lifecycle_r3_happy",
      gas: measured.get("lifecycle_r3_happy")!,
      anchor: PAPER.lifecycleR3,
      target: TARGETS.lifecycle_r3_happy,
    },
    {
      name: "lifecycle_r1_mediation",
      gas: measured.get("lifecycle_r1_mediation")!,
      anchor: null,
      target: TARGETS.lifecycle_r1_mediation,
    },
    { name: "deploy", gas: deployGas, anchor: PAPER.deploy, target: TARGETS.deploy },
    { name: "open_r1", gas: measured.get("open_r1")!, anchor: PAPER.open, target: null },
    { name: "settle_r1", gas: measured.get("settle_r1")!, anchor: PAPER.settle, target: null },
  ];
  for (const [name, gas] of measured) {
    if (!rows.some((r) => r.name === name)) rows.push({ name, gas, anchor: null, target: null });
  }

  printTables(rows, measured);
  await mkdir(dirname(RESULTS), { recursive: true });
  await writeFile(RESULTS, `${JSON.stringify(rows, null, 2)}\n`);
  say(`wrote ${RESULTS}`);

  let failed = rows.filter((r) => r.target !== null && r.gas > r.target).length;
  if (failed) say(`${failed} row(s) above target`);
  const snapshot = Object.fromEntries([...measured].sort(([a], [b]) => a.localeCompare(b)));
  if (update) {
    await writeFile(SNAPSHOT, `${JSON.stringify(snapshot, null, 2)}\n`);
    say(`wrote ${SNAPSHOT}`);
  } else if (check) {
    const committed = JSON.parse(await readFile(SNAPSHOT, "utf8")) as Record<string, number>;
    for (const [name, gas] of Object.entries(snapshot)) {
      const before = committed[name];
      if (before === undefined) {
        say(`snapshot has no "${name}": run node bench/src/gas.ts --update`);
        failed++;
      } else if (gas > before * (1 + TOLERANCE)) {
        say(`${name} grew from ${before} to ${gas} gas (> ${TOLERANCE * 100} %)`);
        failed++;
      } else if (gas !== before) {
        say(`${name}: ${before} → ${gas} gas (within tolerance; --update to record)`);
      }
    }
    if (!failed) say("gas snapshot check passed");
  }
  process.exitCode = failed ? 1 : 0;
}

function fmt(n: number | null | undefined): string {
  return n === null || n === undefined ? "—" : n.toLocaleString("en-US");
}

function printTables(rows: readonly Row[], m: ReadonlyMap<string, number>): void {
  const table = (title: string, head: string[], body: string[][]) => {
    const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
    console.log(`\n${title}\n${line(head)}\n${widths.map((w) => "─".repeat(w)).join("  ")}`);
    for (const r of body) console.log(line(r));
  };
  const ratio = (ours: number, theirs: number) => `${((100 * ours) / theirs).toFixed(0)} %`;
  const lc = (name: keyof typeof TARGETS, paper: number | null) => {
    const gas = m.get(name)!;
    return [name, fmt(gas), fmt(TARGETS[name]), fmt(paper), paper ? ratio(gas, paper) : "—"];
  };
  table(
    "Per lifecycle (open + settle [+ mediate]; deposits excluded)",
    ["lifecycle", "ours", "target", "paper T5", "ours/paper"],
    [
      lc("lifecycle_r1_happy", PAPER.lifecycleR1),
      lc("lifecycle_r3_happy", PAPER.lifecycleR3),
      lc("lifecycle_r1_mediation", null),
      lc("deploy", PAPER.deploy),
    ],
  );
  const fn = (name: string, ours: string, paper: number | null, ref: number | null, paperWhat: string) => [
    name,
    fmt(m.get(ours)),
    fmt(paper),
    fmt(ref),
    paperWhat,
  ];
  table(
    "Per function",
    ["function", "ours", "paper T5", "reference (facts.md §2)", "paper/reference equivalent"],
    [
      fn(
        "open (r=1, 3 signatures)",
        "open_r1",
        PAPER.open,
        REFERENCE.open,
        "createAllocation+addSupplier+3×sign",
      ),
      fn("open (r=3, 5 signatures)", "open_r3", null, null, ""),
      fn("open (Customer only)", "open_r2_customer_only", null, null, ""),
      fn("sign (Mediator)", "sign_one", 101_853, 58_053, "mediatorSign"),
      fn("sign (2 Suppliers → Running)", "sign_last_two", 2 * 188_145, 2 * 113_830, "2×supplierSign"),
      fn("settle (r=1, closes)", "settle_r1", PAPER.settle, REFERENCE.settle, "postOutput+clearMarket"),
      fn("settle (r=3, closes)", "settle_r3", null, null, ""),
      fn("settle → mediation", "settle_to_mediation_r1", 130_108, 112_455, "postOutput (mediation)"),
      fn("mediate (r=1)", "mediate_r1", null, REFERENCE.mediate, "postMediation"),
      fn("settle (r=2, one disputed)", "settle_disputed_r2", null, null, ""),
      fn("expire (Signing, refunds)", "expireSigning_refund", null, null, ""),
      fn("expire (Running: reveal timeout)", "expireReveal", null, null, ""),
      fn("expire (Mediator timeout)", "expireMediation", null, null, ""),
      fn("deposit (first)", "deposit_first", null, null, "(paid with each sign)"),
      fn("deposit", "deposit", null, null, ""),
      fn("withdraw", "withdraw", null, null, ""),
    ],
  );
  const misses = rows.filter((r) => r.target !== null && r.gas > r.target);
  console.log(
    misses.length
      ? `\nABOVE TARGET: ${misses.map((r) => `${r.name} ${fmt(r.gas)} > ${fmt(r.target)}`).join(", ")}`
      : "\nevery row with a target is within it",
  );
}

await main();
