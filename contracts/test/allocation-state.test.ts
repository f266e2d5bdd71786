// Core's AllocationStateCode is the contract's ISurplusMarket.State: same names, same order. Read
// from the Solidity source (the ABI carries the enum's type, not its members) and the ABI.
import { readFileSync } from "node:fs";
import { AllocationState, AllocationStateCode, allocationStateOf } from "@surplus/core";
import { describe, expect, it } from "vitest";
import { SURPLUS_MARKET_ABI } from "../src/index.ts";

const source = readFileSync(new URL("../contracts/ISurplusMarket.sol", import.meta.url), "utf8");

/** The members of `enum State { … }`, in declaration order, comments stripped. */
function solidityStates(): string[] {
  const body = /enum State \{([^}]*)\}/.exec(source)?.[1];
  if (body === undefined) throw new Error("ISurplusMarket.sol declares no `enum State`");
  return body
    .replace(/\/\/[^\n]*/g, "")
    .split(",")
    .map((member) => member.trim())
    .filter(Boolean);
}

describe("AllocationState and ISurplusMarket.State", () => {
  it("has the enum's members, each with its declaration index as code", () => {
    const members = solidityStates();
    expect(Object.keys(AllocationStateCode)).toEqual(members);
    members.forEach((name, index) => {
      expect(AllocationStateCode[name as AllocationState]).toBe(index);
      expect(AllocationState[name as AllocationState]).toBe(name);
      expect(allocationStateOf(index)).toBe(name);
    });
  });

  it("is what recordOf returns and AllocationUnexpectedState carries", () => {
    const abi = SURPLUS_MARKET_ABI as ReadonlyArray<{
      name?: string;
      inputs?: Array<{ internalType: string; type: string }>;
      outputs?: Array<{ internalType: string; type: string }>;
    }>;
    const recordOf = abi.find((e) => e.name === "recordOf")!;
    expect(recordOf.outputs![0]).toMatchObject({ internalType: "enum ISurplusMarket.State", type: "uint8" });
    const unexpected = abi.find((e) => e.name === "AllocationUnexpectedState")!;
    expect(unexpected.inputs!.slice(1).map((i) => i.internalType)).toEqual([
      "enum ISurplusMarket.State",
      "enum ISurplusMarket.State",
    ]);
  });
});
