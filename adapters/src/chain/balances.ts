// FreeBalances over JSON-RPC: the market contract's `balanceOf` (free, not locked in allocations)
// for each account, read side by side with a bound, at the latest block (or `blockTag`, e.g. a
// block some confirmations deep). Also the contract's fee parameters, which decide what `open`
// locks: read from the contract, the one source of truth.
import { connectMarket } from "@surplus/contracts";
import { type Address, type FreeBalances, type MarketFees, mapLimited } from "@surplus/core";
import type { Contract, ContractRunner } from "ethers";

export interface ContractBalancesOptions {
  /** Reads in flight at once. @default 8 */
  readonly concurrency?: number;
  /** Block to read at. @default "latest" */
  readonly blockTag?: string | number;
}

export class ContractFreeBalances implements FreeBalances {
  readonly #market: Contract;
  readonly #options: ContractBalancesOptions;

  constructor(runner: ContractRunner, marketAddress: string, options: ContractBalancesOptions = {}) {
    this.#market = connectMarket(marketAddress, runner);
    this.#options = options;
  }

  async freeBalances(accounts: readonly Address[]): Promise<Map<Address, bigint>> {
    const unique = [...new Set(accounts)];
    const balanceOf = this.#market.getFunction("balanceOf");
    const balances = await mapLimited(
      unique,
      this.#options.concurrency ?? 8,
      async (account) =>
        (await balanceOf(account, { blockTag: this.#options.blockTag ?? "latest" })) as bigint,
    );
    return new Map(unique.map((account, i) => [account, balances[i]!]));
  }
}

/** The market's ρ, F and M as deployed (immutable in the contract). */
export async function readMarketFees(runner: ContractRunner, marketAddress: string): Promise<MarketFees> {
  const market = connectMarket(marketAddress, runner);
  const [penaltyRate, allocatorFee, mediatorFee] = (await Promise.all([
    market.getFunction("penaltyRate")(),
    market.getFunction("allocatorFee")(),
    market.getFunction("mediatorFee")(),
  ])) as [bigint, bigint, bigint];
  return { penaltyRate, allocatorFee, mediatorFee };
}
