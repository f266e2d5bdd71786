// Entry point for `hardhat ignition deploy ignition/modules/LocalSurplusMarket.ts` (a module file
// deploys its default export): a TestToken and the market, for a local node.
import { LocalSurplusMarketModule } from "./SurplusMarket.ts";

export default LocalSurplusMarketModule;
