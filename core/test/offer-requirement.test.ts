// The reputation requirement a Customer signs into its offer (issue 17): part of the signed struct
// (stripping or loosening it breaks the signature), 0 = none, and what the auction is asked to honour.
import { describe, expect, it } from "vitest";
import {
  encodeType,
  offerId,
  offerRequirement,
  SignatureMismatchError,
  signEnvelope,
  toWire,
  verifyEnvelope,
} from "../src/index.ts";
import { aCustomerOffer, alice, domain } from "./fixtures.ts";

const now = 1_700_000_000_000;
const opts = { nowMs: now, maxAgeMs: 60_000 };
const roundTrip = (v: unknown) => JSON.parse(toWire(v));
const demanding = () => ({ ...aCustomerOffer(), windowAllocations: 20, maxMediationsLost: 0 });

describe("a Customer offer's reputation requirement", () => {
  it("is a fixed field of the signed struct", () => {
    expect(encodeType("CustomerOffer")).toMatch(/,uint8 windowAllocations,uint8 maxMediationsLost\)$/);
  });

  it("is signed as 0 when absent: an explicit 0 is the same offer", () => {
    const plain = aCustomerOffer();
    expect(offerId(domain, { ...plain, windowAllocations: 0, maxMediationsLost: 0 })).toBe(
      offerId(domain, plain),
    );
    expect(offerId(domain, demanding())).not.toBe(offerId(domain, plain));
  });

  it("verifies with its requirement and reads it back", async () => {
    const env = roundTrip(await signEnvelope(alice, domain, "CustomerOffer", demanding(), now));
    const verified = verifyEnvelope(domain, env, opts);
    expect(verified.body).toEqual(demanding());
    expect(offerRequirement(verified.body as ReturnType<typeof demanding>)).toEqual({
      maxMediationsLost: 0,
      lastAllocations: 20,
    });
    expect(offerRequirement(aCustomerOffer())).toBeUndefined();
  });

  it("cannot be stripped or loosened in transit", async () => {
    const stripped = roundTrip(await signEnvelope(alice, domain, "CustomerOffer", demanding(), now));
    delete stripped.body.windowAllocations;
    delete stripped.body.maxMediationsLost;
    expect(() => verifyEnvelope(domain, stripped, opts)).toThrow(SignatureMismatchError);
    const loosened = roundTrip(await signEnvelope(alice, domain, "CustomerOffer", demanding(), now));
    loosened.body.maxMediationsLost = 5;
    expect(() => verifyEnvelope(domain, loosened, opts)).toThrow(SignatureMismatchError);
  });

  it("rejects a maximum without a window, or above it", async () => {
    for (const body of [
      { ...aCustomerOffer(), maxMediationsLost: 1 },
      { ...aCustomerOffer(), windowAllocations: 2, maxMediationsLost: 3 },
      { ...aCustomerOffer(), windowAllocations: 65 },
    ]) {
      const env = roundTrip(await signEnvelope(alice, domain, "CustomerOffer", body, now));
      expect(() => verifyEnvelope(domain, env, opts)).toThrow(/maxMediationsLost|windowAllocations/);
    }
  });
});
