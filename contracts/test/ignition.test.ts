// The Ignition module deploys a working market (token + market on the in-process network).
import { ZeroAddress } from "ethers";
import { beforeAll, describe, expect, it } from "vitest";
import { DEFAULTS, LocalSurplusMarketModule } from "../ignition/modules/SurplusMarket.ts";
import { buildContracts } from "../src/network.ts";
import { createNetwork } from "./support/fixture.ts";

describe("Ignition", () => {
  beforeAll(buildContracts, 300_000);

  it("LocalSurplusMarket deploys a TestToken and a market with the default parameters", async () => {
    const net = await createNetwork();
    const { market, token } = await net.ignition.deploy(LocalSurplusMarketModule);
    const [deployer] = await net.ethers.getSigners();
    expect(await market.getFunction("token")()).toBe(await token.getAddress());
    expect(await market.getFunction("treasury")()).toBe(deployer!.address);
    expect(await market.getFunction("penaltyRate")()).toBe(DEFAULTS.penaltyRate);
    expect(await market.getFunction("revealWindow")()).toBe(DEFAULTS.revealWindow);
    expect(await token.getAddress()).not.toBe(ZeroAddress);
  });
});
