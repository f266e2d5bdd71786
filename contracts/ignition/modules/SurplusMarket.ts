// Hardhat Ignition modules of the market.
//
// - `SurplusMarket` deploys the market against an existing ERC-20 (a stablecoin or test token on a
//   public testnet): parameter `token` is required.
// - `LocalSurplusMarket` first deploys a TestToken (anyone can mint: local networks only).
//
// Every system parameter is a module parameter with the defaults below; see contracts/README.md
// for what each one means and how to choose it.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import { DEFAULT_PARAMETERS } from "../../src/index.ts";

/** Defaults of the system parameters (token base units and seconds): the package's one set. */
export const DEFAULTS = DEFAULT_PARAMETERS;

/** The constructor's arguments after token and treasury, in its order. */
const ORDER = [
  "penaltyRate",
  "allocatorFee",
  "mediatorFee",
  "timeoutFineBps",
  "signingWindow",
  "revealWindow",
  "mediationWindow",
  "minDuration",
  "maxDuration",
  "maxStartDelay",
] as const;

/** Those arguments, each a module parameter with its default. */
function parameters(m: Parameters<Parameters<typeof buildModule>[1]>[0]) {
  return ORDER.map((k) => m.getParameter(k, DEFAULTS[k]));
}

export const SurplusMarketModule = buildModule("SurplusMarket", (m) => {
  const token = m.getParameter<string>("token");
  const treasury = m.getParameter("treasury", m.getAccount(0));
  const market = m.contract("SurplusMarket", [token, treasury, ...parameters(m)]);
  return { market };
});

export const LocalSurplusMarketModule = buildModule("LocalSurplusMarket", (m) => {
  const token = m.contract("TestToken");
  const treasury = m.getParameter("treasury", m.getAccount(0));
  const market = m.contract("SurplusMarket", [token, treasury, ...parameters(m)]);
  return { token, market };
});
