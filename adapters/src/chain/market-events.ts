// ChainReader over JSON-RPC: the market contract's events, decoded with its ABI.

import { SURPLUS_MARKET_ABI } from "@surplus/contracts";
import type { Bytes32, ChainReader, MarketEvent } from "@surplus/core";
import { Interface, type Provider } from "ethers";

const iface = new Interface(SURPLUS_MARKET_ABI);

/** Converts ethers' decoded values into plain JSON-friendly ones (bigint kept as bigint). */
function plain(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plain);
  if (typeof value === "bigint" && value <= BigInt(Number.MAX_SAFE_INTEGER) && value >= 0n)
    return Number(value);
  return value;
}

export class MarketEventReader implements ChainReader {
  readonly #provider: Provider;
  readonly #address: string;
  readonly #timestamps = new Map<number, number>();

  constructor(provider: Provider, marketAddress: string) {
    this.#provider = provider;
    this.#address = marketAddress;
  }

  async headBlock(): Promise<number> {
    return this.#provider.getBlockNumber();
  }

  async events(fromBlock: number, toBlock: number): Promise<MarketEvent[]> {
    const logs = await this.#provider.getLogs({ address: this.#address, fromBlock, toBlock });
    const events: MarketEvent[] = [];
    for (const log of logs) {
      const parsed = iface.parseLog({ topics: [...log.topics], data: log.data });
      if (!parsed) continue; // not one of the market's events
      const args: Record<string, unknown> = {};
      parsed.fragment.inputs.forEach((input, i) => {
        args[input.name] = plain(parsed.args[i]);
      });
      const id = args.id as Bytes32 | undefined;
      events.push({
        name: parsed.name,
        ...(id ? { allocationId: id.toLowerCase() as Bytes32 } : {}),
        args,
        blockNumber: log.blockNumber,
        logIndex: log.index,
        transactionHash: log.transactionHash,
        timestamp: await this.#timestamp(log.blockNumber),
      });
    }
    return events.sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);
  }

  async #timestamp(block: number): Promise<number> {
    let t = this.#timestamps.get(block);
    if (t === undefined) {
      t = (await this.#provider.getBlock(block))?.timestamp ?? 0;
      this.#timestamps.set(block, t);
    }
    return t;
  }
}
