import { describe, expect, it } from "vitest";
import { AllocationState, AllocationStateCode, allocationStateOf } from "../src/index.ts";

describe("allocationStateOf", () => {
  it("decodes every code back to its state", () => {
    for (const state of Object.values(AllocationState)) {
      expect(allocationStateOf(AllocationStateCode[state])).toBe(state);
      expect(allocationStateOf(BigInt(AllocationStateCode[state]))).toBe(state);
    }
  });

  it("codes are the enum's consecutive values from 0", () => {
    expect(Object.values(AllocationStateCode).sort()).toEqual([0, 1, 2, 3, 4]);
  });

  it("refuses a value outside the enum", () => {
    for (const bad of [-1, 5, 1.5, 255n]) expect(() => allocationStateOf(bad)).toThrow(RangeError);
  });
});
