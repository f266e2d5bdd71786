// The accept round's behaviour, shared by the unit tests (in-memory registry) and the integration
// tests (DynamoDB on moto): both registries must give the same guarantees.
import {
  type AcceptRegistry,
  type Allocation,
  domainOf,
  SCHEMA_VERSION,
  signEnvelope,
  TYPES,
  toWire,
} from "@surplus/core";
import { describe, expect, it } from "vitest";
import { type AcceptRoundConfig, runAcceptRound } from "../../src/allocator/accept-round.ts";
import {
  acceptOf,
  allocation,
  crashingOnce,
  customerWallet,
  everyAccept,
  GAMMA,
  idOf,
  MemoryMarket,
  mediatorWallet,
  outsider,
  supplierWallets,
} from "./accept-scenario.ts";
import {
  allocatorWallet,
  customerBody,
  domain,
  MemoryOfferSource,
  NOW_MS,
  signedOffer,
} from "./allocator-scenario.ts";

const config: AcceptRoundConfig = {
  domain,
  allocator: allocatorWallet.address as `0x${string}`,
  batchSize: 3,
};

/** Registries with these allocations committed (as the offer round commits them). */
export type MakeAcceptRegistry = (allocations: readonly Allocation[]) => Promise<AcceptRegistry>;

function channel(messages: readonly unknown[]): MemoryOfferSource {
  const source = new MemoryOfferSource();
  for (const m of messages) source.append(m);
  return source;
}

export function acceptRoundCases(makeRegistry: MakeAcceptRegistry) {
  describe("runAcceptRound", () => {
    it("opens an allocation once every party accepted, with their signatures and the Customer's Γ", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const source = channel(await everyAccept(a));
      const market = new MemoryMarket();

      const report = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS);

      expect(report).toMatchObject({
        read: 4,
        recorded: 4,
        duplicates: 0,
        rejected: [],
        lapsed: [],
        failed: [],
      });
      expect(report.opened).toEqual([
        expect.objectContaining({
          allocationId: idOf(a),
          gasUsed: 400_000n,
          state: "Running",
          acceptedAtMs: NOW_MS,
        }),
      ]);
      expect(market.transactions).toHaveLength(1);
      expect(market.transactions[0]!.signatures.commitment).toBe(GAMMA);
      expect((await registry.progress(idOf(a)))?.status).toBe("opened");
      expect(await registry.cursor("accepts")).toBe(source.messages.at(-1)!.position);
      expect(await registry.awaitingOpen()).toEqual([]);
    });

    it("opens nothing while a party has not accepted, then opens when its accept arrives", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const [customer, mediator, s0, s1] = await everyAccept(a);
      const source = channel([customer, mediator, s0]);
      const market = new MemoryMarket();

      const partial = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS);
      source.append(s1);
      const complete = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS + 1_000);

      expect(partial).toMatchObject({ recorded: 3, opened: [] });
      expect(complete).toMatchObject({ read: 1, recorded: 1 });
      expect(complete.opened).toHaveLength(1);
      expect(complete.opened[0]!.acceptedAtMs).toBe(NOW_MS + 1_000);
      expect(market.transactions).toHaveLength(1);
    });

    it("records a party's accept once: replays and second accepts are duplicates", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const accepts = await everyAccept(a);
      const again = await acceptOf(customerWallet, a, {
        commitment: `0x${"99".repeat(32)}`,
        sentAtMs: NOW_MS + 1,
      });
      const source = channel([accepts[0], accepts[0], again, ...accepts.slice(1)]);
      const market = new MemoryMarket();

      const report = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS);

      expect(report).toMatchObject({ read: 6, recorded: 4, duplicates: 2, rejected: [] });
      expect(market.transactions).toHaveLength(1);
      // The first accept stands: its Γ is what the contract gets.
      expect(market.transactions[0]!.signatures.commitment).toBe(GAMMA);
    });

    it("rejects an accept by an account that is not a party, and opens nothing for it", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const source = channel([await acceptOf(outsider, a)]);

      const report = await runAcceptRound({ source, registry, opener: new MemoryMarket() }, config, NOW_MS);

      expect(report.recorded).toBe(0);
      expect(report.rejected).toEqual([
        { position: source.messages[0]!.position, error: expect.stringContaining("is not a party") },
      ]);
      expect((await registry.progress(idOf(a)))?.accepts.size).toBe(0);
    });

    it("rejects forged accepts: signed by another key, or tampered with", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      // An outsider signs an accept in the Customer's name.
      const body = { allocationId: idOf(a), account: a.customer, commitment: GAMMA };
      const forged = JSON.parse(
        toWire({
          schemaVersion: SCHEMA_VERSION,
          type: "Accept",
          body,
          signer: a.customer,
          signature: await outsider.signTypedData(domainOf(domain), { Accept: [...TYPES.Accept] }, body),
          sentAtMs: NOW_MS,
        }),
      );
      const tampered = structuredClone(await acceptOf(customerWallet, a)) as { body: { commitment: string } };
      tampered.body.commitment = `0x${"66".repeat(32)}`;
      const source = channel([forged, tampered]);
      const market = new MemoryMarket();

      const report = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS);

      expect(report.recorded).toBe(0);
      expect(report.rejected).toHaveLength(2);
      for (const r of report.rejected) expect(r.error).toMatch(/signature|signed/i);
      expect(market.transactions).toHaveLength(0);
    });

    it("reports messages of the wrong type, unreadable or stale, and keeps going", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const offer = JSON.parse(
        JSON.stringify(await signedOffer(10, customerBody(10)), (_k, v) =>
          typeof v === "bigint" ? v.toString() : v,
        ),
      );
      const stale = await acceptOf(customerWallet, a, { sentAtMs: NOW_MS - 3_600_000 });
      const source = channel([offer, undefined, stale, ...(await everyAccept(a))]);
      const market = new MemoryMarket();

      const report = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS);

      expect(report.rejected.map((r) => r.error)).toEqual([
        expect.stringContaining("does not belong on the accept channel"),
        expect.any(String),
        expect.stringMatching(/outside the/),
      ]);
      expect(report.recorded).toBe(4);
      expect(market.transactions).toHaveLength(1);
    });

    it("rejects a Supplier's accept that carries a commitment (the contract would refuse the open)", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const source = channel([await acceptOf(supplierWallets[0]!, a, { commitment: GAMMA })]);

      const report = await runAcceptRound({ source, registry, opener: new MemoryMarket() }, config, NOW_MS);

      expect(report.rejected[0]!.error).toContain("only the Customer's does");
    });

    it("rejects accepts of allocations it never made", async () => {
      const registry = await makeRegistry([]);
      const source = channel([await acceptOf(customerWallet, allocation(7n))]);

      const report = await runAcceptRound({ source, registry, opener: new MemoryMarket() }, config, NOW_MS);

      expect(report.rejected[0]!.error).toContain("unknown allocation");
    });

    it("opens nothing twice when retried after a crash before the cursor moved", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const source = channel(await everyAccept(a));
      const market = new MemoryMarket();
      const crashing = crashingOnce(registry, "advanceCursor");
      await expect(
        runAcceptRound({ source, registry: crashing, opener: market }, config, NOW_MS),
      ).rejects.toThrow("crashed");

      const retry = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS + 1_000);
      const next = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS + 2_000);

      // The first batch (3 of 4) was recorded before the crash: replayed, they are duplicates.
      expect(retry).toMatchObject({ read: 4, recorded: 1, duplicates: 3, rejected: [] });
      expect(retry.opened).toHaveLength(1);
      expect(next).toMatchObject({ read: 0, opened: [], alreadyOpen: [] });
      expect(market.transactions).toHaveLength(1);
    });

    it("after a failure between the open and its record, asks the chain and sends nothing again", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const source = channel(await everyAccept(a));
      const market = new MemoryMarket();
      const crashed = await runAcceptRound(
        { source, registry: crashingOnce(registry, "markOpened"), opener: market },
        config,
        NOW_MS,
      );
      expect(crashed.failed).toEqual([{ allocationId: idOf(a), error: "crashed in markOpened" }]);
      expect((await registry.progress(idOf(a)))?.transactionHash).toBeDefined();

      const soon = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS + 1_000);
      const later = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS + 121_000);

      // Within the claim's lifetime the crashed run might still be at work: nobody else submits.
      expect(soon).toMatchObject({ opened: [], alreadyOpen: [], lapsed: [] });
      // Past it (and past the signing deadline), the chain says it is open: recorded, not re-sent.
      expect(later).toMatchObject({ opened: [], alreadyOpen: [idOf(a)], lapsed: [] });
      expect(market.transactions).toHaveLength(1);
      expect((await registry.progress(idOf(a)))?.status).toBe("opened");
    });

    it("takes over a stale claim before the deadline: the opener finds it open and nothing is re-sent", async () => {
      const a = allocation(1n, 600);
      const registry = await makeRegistry([a]);
      const source = channel(await everyAccept(a));
      const market = new MemoryMarket();
      await runAcceptRound(
        { source, registry: crashingOnce(registry, "markOpened"), opener: market },
        config,
        NOW_MS,
      );

      const later = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS + 121_000);

      expect(later.alreadyOpen).toEqual([idOf(a)]);
      expect(market.transactions).toHaveLength(1);
    });

    it("sends one open when rounds run concurrently", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const source = channel(await everyAccept(a));
      const market = new MemoryMarket();

      const reports = await Promise.all(
        [0, 1, 2].map(() => runAcceptRound({ source, registry, opener: market }, config, NOW_MS)),
      );

      expect(reports.flatMap((r) => r.opened)).toHaveLength(1);
      expect(market.transactions).toHaveLength(1);
    });

    it("lets an allocation lapse when not every party accepted by the signing deadline", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const [customer, mediator, s0, s1] = await everyAccept(a);
      const source = channel([customer, mediator, s0]);
      const market = new MemoryMarket();
      await runAcceptRound({ source, registry, opener: market }, config, NOW_MS);

      const atStart = await runAcceptRound({ source, registry, opener: market }, config, a.start * 1000);
      source.append(s1);
      const late = await runAcceptRound({ source, registry, opener: market }, config, a.start * 1000 + 1_000);

      expect(atStart.lapsed).toEqual([
        { allocationId: idOf(a), reason: expect.stringContaining(`without the accept of ${a.suppliers[1]}`) },
      ]);
      expect(late.rejected[0]!.error).toContain("opened or lapsed already");
      expect(late.opened).toEqual([]);
      expect(market.transactions).toHaveLength(0);
      expect((await registry.progress(idOf(a)))?.status).toBe("lapsed");
      expect(await registry.awaitingOpen()).toEqual([]);
    });

    it("honours a lead before the start: the deadline is start − signingLeadSeconds", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const source = channel(await everyAccept(a));
      const market = new MemoryMarket();

      const report = await runAcceptRound(
        { source, registry, opener: market },
        { ...config, signingLeadSeconds: 30 },
        (a.start - 30) * 1000,
      );

      expect(report.opened).toEqual([]);
      expect(report.lapsed).toHaveLength(1);
      expect(market.transactions).toHaveLength(0);
    });

    it("lets an allocation lapse when a party declines", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const decline = JSON.parse(
        toWire(
          await signEnvelope(
            supplierWallets[1]!,
            domain,
            "Decline",
            { allocationId: idOf(a), account: a.suppliers[1]!, reason: "busy" },
            NOW_MS,
          ),
        ),
      );
      const source = channel([...(await everyAccept(a)).slice(0, 3), decline]);
      const market = new MemoryMarket();

      const report = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS);

      expect(report.lapsed).toEqual([
        { allocationId: idOf(a), reason: `declined by ${a.suppliers[1]}: busy` },
      ]);
      expect(market.transactions).toHaveLength(0);
    });

    it("reports an open that failed before being sent, and retries it next round", async () => {
      const a = allocation();
      const registry = await makeRegistry([a]);
      const source = channel(await everyAccept(a));
      const market = new MemoryMarket();
      market.failNext = new Error("InsufficientBalance");

      const first = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS);
      const second = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS + 1_000);

      expect(first.failed).toEqual([{ allocationId: idOf(a), error: "InsufficientBalance" }]);
      expect(second.opened).toHaveLength(1);
      expect(market.transactions).toHaveLength(1);
    });

    it("keeps allocations apart: each opens when its own parties have accepted", async () => {
      const a = allocation(1n);
      const b = allocation(2n);
      const registry = await makeRegistry([a, b]);
      const source = channel([...(await everyAccept(a)), (await everyAccept(b))[0]]);
      const market = new MemoryMarket();

      const report = await runAcceptRound({ source, registry, opener: market }, config, NOW_MS);

      expect(report.opened.map((o) => o.allocationId)).toEqual([idOf(a)]);
      expect(await registry.awaitingOpen()).toEqual([idOf(b)]);
      expect(mediatorWallet.address).toBe(a.mediator);
    });
  });
}
