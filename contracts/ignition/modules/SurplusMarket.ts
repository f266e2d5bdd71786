// Hardhat Ignition modules of the market.
//
// - `SurplusMarket` deploys the market against an existing ERC-20 (a stablecoin or test token on a
//   public testnet): parameter `token` is required.
// - `LocalSurplusMarket` first deploys a TestToken (anyone can mint: local networks only).
//
// Every system parameter is a module parameter with the defaults below; see contracts/README.md
// for what each one means and how to choose it.
import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** Defaults of the system parameters (token base units and seconds). */
export const DEFAULTS = {
  penaltyRate: 1_000n,
  allocatorFee: 10n ** 15n,
  mediatorFee: 2n * 10n ** 15n,
  timeoutFineBps: 2_500n,
  signingWindow: 600n,
  revealWindow: 3_600n,
  mediationWindow: 3_600n,
} as const;

export const SurplusMarketModule = buildModule("SurplusMarket", (m) => {
  const token = m.getParameter<string>("token");
  const treasury = m.getParameter("treasury", m.getAccount(0));
  const market = m.contract("SurplusMarket", [
    token,
    treasury,
    m.getParameter("penaltyRate", DEFAULTS.penaltyRate),
    m.getParameter("allocatorFee", DEFAULTS.allocatorFee),
    m.getParameter("mediatorFee", DEFAULTS.mediatorFee),
    m.getParameter("timeoutFineBps", DEFAULTS.timeoutFineBps),
    m.getParameter("signingWindow", DEFAULTS.signingWindow),
    m.getParameter("revealWindow", DEFAULTS.revealWindow),
    m.getParameter("mediationWindow", DEFAULTS.mediationWindow),
  ]);
  return { market };
});

export const LocalSurplusMarketModule = buildModule("LocalSurplusMarket", (m) => {
  const token = m.contract("TestToken");
  const treasury = m.getParameter("treasury", m.getAccount(0));
  const market = m.contract("SurplusMarket", [
    token,
    treasury,
    m.getParameter("penaltyRate", DEFAULTS.penaltyRate),
    m.getParameter("allocatorFee", DEFAULTS.allocatorFee),
    m.getParameter("mediatorFee", DEFAULTS.mediatorFee),
    m.getParameter("timeoutFineBps", DEFAULTS.timeoutFineBps),
    m.getParameter("signingWindow", DEFAULTS.signingWindow),
    m.getParameter("revealWindow", DEFAULTS.revealWindow),
    m.getParameter("mediationWindow", DEFAULTS.mediationWindow),
  ]);
  return { token, market };
});

export default SurplusMarketModule;
