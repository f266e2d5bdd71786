// The Allocator's auction (paper §2.1, §3.1, §3.3; the algorithm in docs/auction.md): pure and
// deterministic. Round-level mechanisms (runAuction's `mechanism` param) are part of its API.
export * from "../mechanism.ts";
export { auctionPasses, runAuction, runGreedy } from "./greedy.ts";
export { CustomerOrder, ORDERS } from "./orders.ts";
