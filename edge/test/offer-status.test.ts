// `surplus-edge status --offers` (issue 17): each offer's status as the Allocator reported it on
// the participant's channel, with the reason an offer is not (fully) matched.
import { describe, expect, it } from "vitest";
import { formatOfferStatuses, formatOfferStatusesShort } from "../src/cli/status.ts";

describe("formatOfferStatuses", () => {
  it("shows each offer's state, its allocations and why it waits", () => {
    const now = 1_800_000_000_000;
    const text = formatOfferStatuses(
      [
        {
          offerId: `0x${"ab".repeat(32)}`,
          kind: "customer",
          state: "open",
          reason: "bid 90 per MI below every ask that fits (the cheapest is 120)",
          allocations: [],
          updatedAtMs: now - 65_000,
        },
        {
          offerId: `0x${"cd".repeat(32)}`,
          kind: "supplier",
          state: "matched",
          allocations: [`0x${"12".repeat(32)}`],
          updatedAtMs: now - 2_000,
        },
      ],
      now,
    );
    expect(text.split("\n")).toEqual([
      "offers (as the Allocator reported them):",
      "  customer offer 0xabababab…  open  (65 s ago)",
      "      why: bid 90 per MI below every ask that fits (the cheapest is 120)",
      "  supplier offer 0xcdcdcdcd…  matched into 0x12121212…  (2 s ago)",
    ]);
  });

  it("says when the Allocator reported nothing yet", () => {
    expect(formatOfferStatuses([])).toBe("offers: the Allocator has reported none yet");
  });
});

describe("formatOfferStatusesShort (plain `status`)", () => {
  it("counts offers per state and names the latest reason one waits for", () => {
    const line = (state: string, reason?: string) => ({
      offerId: `0x${"ab".repeat(32)}`,
      kind: "customer",
      state,
      ...(reason ? { reason } : {}),
      allocations: [],
      updatedAtMs: 0,
    });
    expect(
      formatOfferStatusesShort([
        line("matched"),
        line("open", "no Supplier under a Mediator it trusts"),
        line("matched"),
        line("rejected", "not admitted"),
      ]).split("\n"),
    ).toEqual(["offer statuses:      2 matched, 1 open, 1 rejected", "  latest why:         not admitted"]);
    expect(formatOfferStatusesShort([line("matched")])).toBe("offer statuses:      1 matched");
    expect(formatOfferStatusesShort([])).toBe("offer statuses:      none reported by the Allocator yet");
  });
});
