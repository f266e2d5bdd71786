// Giving back a lapsed allocation's share: what both registries write, decided in one place.
import { describe, expect, it } from "vitest";
import {
  type Address,
  type Commitment,
  DEFAULT_DELAYS,
  giveBack,
  type Lapse,
  lapsedShare,
  offerId,
} from "../src/index.ts";
import { aCustomerOffer, anAllocation, aSupplierOffer, bob, domain, wallet } from "./fixtures.ts";

const customerOffer = aCustomerOffer();
const s1 = offerId(domain, aSupplierOffer());
const s2 = offerId(domain, aSupplierOffer({ account: wallet(4).address as Address }));
const a = anAllocation({
  suppliers: [bob.address as Address, wallet(4).address as Address],
  supplierOffers: [s1, s2],
});
const share: Commitment = { start: 1_000, end: 1_600, mips: 1_000, ramMb: 256 };
const other: Commitment = { start: 2_000, end: 2_600, mips: 1_000, ramMb: 256 };
/** t_e of the Customer offer (end 4,000 − δ_min 600 − δ_setup 5 − δ_alloc 5), in ms. */
const EXPIRY_MS = 3_390_000;

const lapse = (overrides: Partial<Lapse> = {}): Lapse => ({
  allocation: a,
  share,
  customer: { offer: customerOffer, status: "closed", openWindows: [{ start: 1_600, end: 1_900 }] },
  suppliers: [
    { offerId: s1, commitments: [other, share] },
    { offerId: s2, commitments: [share, share] },
  ],
  nowMs: 1_000_000,
  delays: DEFAULT_DELAYS,
  ...overrides,
});

describe("giveBack", () => {
  it("takes the share off each Supplier offer once and reopens the Customer offer with its window joined", () => {
    expect(giveBack(lapse())).toEqual({
      suppliers: [
        { offerId: s1, commitments: [other] },
        // Two equal shares (two allocations): only this allocation's one leaves.
        { offerId: s2, commitments: [share] },
      ],
      customer: { offerId: a.customerOffer, openWindows: [{ start: 1_000, end: 1_900 }] },
    });
  });

  it("writes nothing to a Supplier offer that no longer holds the share, and lists an offer once", () => {
    const result = giveBack(
      lapse({
        suppliers: [
          { offerId: s1, commitments: [other] },
          { offerId: s2, commitments: [share] },
          { offerId: s2, commitments: [share] },
        ],
      }),
    );
    expect(result.suppliers).toEqual([{ offerId: s2, commitments: [] }]);
  });

  it("derives the share of an allocation committed before shares were recorded (I_c·λ MIPS, R_c RAM)", () => {
    expect(lapsedShare(a, undefined, customerOffer)).toEqual(share);
    expect(lapsedShare(a, other, customerOffer)).toEqual(other);
    expect(giveBack(lapse({ share: undefined })).suppliers).toEqual([
      { offerId: s1, commitments: [other] },
      { offerId: s2, commitments: [share] },
    ]);
    // Without the share and without the Customer offer nothing says what to give back.
    const { customer: _gone, ...noCustomer } = lapse({ share: undefined });
    expect(giveBack(noCustomer)).toEqual({ suppliers: [] });
  });

  it("keeps disjoint windows apart, ascending", () => {
    const result = giveBack(
      lapse({
        customer: {
          offer: customerOffer,
          status: "open",
          openWindows: [
            { start: 3_000, end: 4_000 },
            { start: 1_700, end: 2_000 },
          ],
        },
      }),
    );
    expect(result.customer?.openWindows).toEqual([
      { start: 1_000, end: 1_600 },
      { start: 1_700, end: 2_000 },
      { start: 3_000, end: 4_000 },
    ]);
  });

  it("does not reopen a void Customer offer, nor one past its expiry t_e", () => {
    const voided = lapse({ customer: { offer: customerOffer, status: "void", openWindows: [] } });
    expect(giveBack(voided).customer).toBeUndefined();
    expect(giveBack(lapse({ nowMs: EXPIRY_MS })).customer).toBeDefined();
    expect(giveBack(lapse({ nowMs: EXPIRY_MS + 1_000 })).customer).toBeUndefined();
    // The Suppliers get their share back either way.
    expect(giveBack(lapse({ nowMs: EXPIRY_MS + 1_000 })).suppliers).toHaveLength(2);
  });
});
