// `surplus-edge balance | deposit | withdraw`: the account's money in the market contract. Every
// allocation locks a deposit (and, for a Supplier, the Allocator's fee) from the free balance there,
// so a new participant deposits before its first allocation and withdraws what it earned.
import { connectMarket } from "@surplus/contracts";
import { SurplusError } from "@surplus/core";
import { Contract, JsonRpcProvider } from "ethers";
import type { EdgeConfig } from "./config.ts";
import { keystoreAddress, openKeystore } from "./keystore.ts";

const ERC20 = [
  "function balanceOf(address) view returns (uint256)",
  "function allowance(address owner, address spender) view returns (uint256)",
  "function approve(address spender, uint256 amount) returns (bool)",
];

export type FundsAction = "balance" | "deposit" | "withdraw";

/** Runs the action and returns the lines to print: the free balance in the market and the wallet's tokens. */
export async function funds(
  config: EdgeConfig,
  action: FundsAction,
  amountText: string | undefined,
  password: () => Promise<string>,
): Promise<string[]> {
  let amount = 0n;
  if (action !== "balance") {
    if (!amountText || !/^\d+$/.test(amountText) || BigInt(amountText) === 0n)
      throw new SurplusError(
        "USAGE",
        `${action} needs an AMOUNT > 0 in the token's base units, not ${amountText ?? "nothing"}`,
      );
    amount = BigInt(amountText);
  }
  const provider = new JsonRpcProvider(config.chain.rpcUrl, undefined, { cacheTimeout: -1 });
  try {
    const lines: string[] = [];
    let address = keystoreAddress(config.keystore);
    const readMarket = connectMarket(config.chain.market, provider);
    const tokenAddress = (await readMarket.getFunction("token")()) as string;
    if (action !== "balance") {
      const signer = (await openKeystore(config.keystore, await password())).connect(provider);
      address = signer.address;
      const market = connectMarket(config.chain.market, signer);
      if (action === "deposit") {
        const token = new Contract(tokenAddress, ERC20, signer);
        const allowed = (await token.getFunction("allowance")(address, config.chain.market)) as bigint;
        if (allowed < amount) await (await token.getFunction("approve")(config.chain.market, amount)).wait();
        await (await market.getFunction("deposit")(amount)).wait();
        lines.push(`deposited ${amount} into the market ${config.chain.market}`);
      } else {
        await (await market.getFunction("withdraw")(amount)).wait();
        lines.push(`withdrew ${amount} from the market ${config.chain.market}`);
      }
    }
    const token = new Contract(tokenAddress, ERC20, provider);
    const [free, held] = await Promise.all([
      readMarket.getFunction("balanceOf")(address) as Promise<bigint>,
      token.getFunction("balanceOf")(address) as Promise<bigint>,
    ]);
    lines.push(`${address}: ${free} free in the market, ${held} in the wallet (token ${tokenAddress})`);
    return lines;
  } finally {
    provider.destroy();
  }
}
