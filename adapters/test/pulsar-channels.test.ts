// Channel naming and the Table 4 grants, as pure functions.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  type AllocationParties,
  allocationChannels,
  allocationGrants,
  allowedActions,
  deadLetterTopicOf,
  marketChannels,
  marketGrants,
} from "../src/pulsar/index.ts";

const addr = (n: number) => `0x${n.toString(16).padStart(40, "0")}`;
const parties: AllocationParties = {
  allocationId: "42",
  customer: addr(1),
  suppliers: [addr(2), addr(3)],
  mediator: addr(4),
  allocator: addr(5),
};

describe("channel names", () => {
  it("puts the public channels in market/public and each allocation in its own namespace", () => {
    expect(marketChannels()).toEqual({
      offers: "persistent://market/public/offers",
      allocations: "persistent://market/public/allocations",
      accept: "persistent://market/public/accept",
    });
    const ch = allocationChannels("0xABCD", [addr(2)]);
    expect(ch.namespace).toBe("market/alloc-0xabcd");
    expect(ch.input).toBe("persistent://market/alloc-0xabcd/input");
    expect(ch.outputs[addr(2)]).toBe(`persistent://market/alloc-0xabcd/output-${addr(2)}`);
    expect(deadLetterTopicOf(ch.input)).toBe("persistent://market/alloc-0xabcd/input-dlq");
  });

  it("refuses allocation ids that cannot be a namespace", () => {
    expect(() => allocationChannels("a/b", [])).toThrow(/allocation id/);
  });
});

describe("Table 4 grants of an allocation", () => {
  const grants = allocationGrants(parties);
  const ch = allocationChannels(parties.allocationId, parties.suppliers);
  const [s1, s2] = parties.suppliers as [string, string];
  const out1 = ch.outputs[s1] as string;

  it.each([
    ["input", ch.input, parties.customer, ["produce"]],
    ["input", ch.input, s1, ["consume"]],
    ["input", ch.input, parties.mediator, ["consume"]],
    ["input", ch.input, parties.allocator, []],
    ["own output", out1, s1, ["produce"]],
    ["other supplier's output", out1, s2, []],
    ["output", out1, parties.customer, ["consume"]],
    ["output", out1, parties.mediator, ["consume"]],
    ["checklist", ch.checklist, parties.customer, ["produce"]],
    ["checklist", ch.checklist, s2, ["consume"]],
    ["cleanup", ch.cleanup, parties.allocator, ["produce"]],
    ["cleanup", ch.cleanup, s1, ["consume"]],
    ["mediation", ch.mediation, parties.mediator, ["produce"]],
    ["mediation", ch.mediation, parties.allocator, ["consume"]],
    ["input DLQ", deadLetterTopicOf(ch.input), s1, ["produce"]],
    ["input DLQ", deadLetterTopicOf(ch.input), parties.customer, []],
  ])("%s: %s for %s is %j", (_label, topic, role, actions) => {
    expect(allowedActions(grants, topic, role)).toEqual(actions);
  });

  it("has exactly one producer per channel", () => {
    const channels = [ch.input, ...Object.values(ch.outputs), ch.checklist, ch.cleanup, ch.mediation];
    for (const topic of channels) {
      expect(grants.filter((g) => g.topic === topic && g.actions.includes("produce"))).toHaveLength(1);
    }
  });

  it("never lets a Supplier read or write another Supplier's output, for any allocation", () => {
    const address = fc.integer({ min: 100, max: 2 ** 40 }).map(addr);
    fc.assert(
      fc.property(fc.uniqueArray(address, { minLength: 2, maxLength: 6 }), (suppliers) => {
        const p = { ...parties, suppliers };
        const g = allocationGrants(p);
        const outputs = allocationChannels(p.allocationId, suppliers).outputs;
        for (const a of suppliers) {
          for (const b of suppliers) {
            if (a !== b) expect(allowedActions(g, outputs[b] as string, a)).toEqual([]);
          }
        }
      }),
    );
  });

  it("merges the rights of a party holding two roles", () => {
    const g = allocationGrants({ ...parties, mediator: parties.customer });
    expect(allowedActions(g, ch.input, parties.customer)).toEqual(["produce", "consume"]);
  });
});

describe("market grants", () => {
  const m = marketChannels();
  it("lets Customers and Suppliers offer and accept, the Mediator accept, and only the Allocator allocate", () => {
    const supplier = marketGrants({ address: addr(2), kind: "supplier" });
    const allocator = marketGrants({ address: addr(5), kind: "allocator" });
    const mediator = marketGrants({ address: addr(4), kind: "mediator" });
    expect(allowedActions(supplier, m.offers, addr(2))).toEqual(["produce", "consume"]);
    expect(allowedActions(supplier, m.allocations, addr(2))).toEqual(["consume"]);
    expect(allowedActions(allocator, m.allocations, addr(5))).toEqual(["produce", "consume"]);
    expect(allowedActions(allocator, m.offers, addr(5))).toEqual(["consume"]);
    expect(allowedActions(mediator, m.accept, addr(4))).toEqual(["produce", "consume"]);
    expect(allowedActions(mediator, m.offers, addr(4))).toEqual(["consume"]);
    expect(allowedActions(mediator, m.allocations, addr(4))).toEqual(["consume"]);
  });
});
