// The paper's own allocator (facts §1, MODiCuM-Online `alg1.py`), re-implemented from its
// description as the baseline our auction must beat; it is not used by the market.
//  - feasibility graph over all buyer/seller pairs (O(B·S)) with eq. 1 and a non-empty window
//    overlap (eq. 2), nothing else (no Mediator, no δ_min, no expiry, no replicas);
//  - Hopcroft–Karp maximum-cardinality matching: maximises the number of matches, not welfare;
//  - matched buyers and matched sellers are then paired again by price rank (highest bid with
//    lowest ask) and priced at the uniform midpoint, so a priced pair may not be feasible;
//  - one Supplier per allocation, whatever r the Customer asked for.
import { requiredMips } from "../feasibility.ts";
import type { Bytes32, CustomerOffer, SupplierOffer } from "../schemas.ts";

export interface ReferencePair {
  readonly customerOfferId: Bytes32;
  readonly supplierOfferId: Bytes32;
  readonly start: number;
  readonly end: number;
  readonly pricePerMi: bigint;
}

export interface ReferenceResult {
  readonly pairs: readonly ReferencePair[];
  /** Size of the maximum matching. */
  readonly matched: number;
}

function edge(s: SupplierOffer, c: CustomerOffer): boolean {
  return (
    requiredMips(c) <= s.capacityMips &&
    c.ramMb <= s.ramMb &&
    s.minPricePerMi <= c.maxPricePerMi &&
    Math.max(s.start, c.start) < Math.min(s.end, c.end)
  );
}

/** Hopcroft–Karp on an adjacency list (left = Customers). Returns match of each left vertex or −1. */
export function hopcroftKarp(adj: readonly (readonly number[])[], rightCount: number): Int32Array {
  const n = adj.length;
  const matchL = new Int32Array(n).fill(-1);
  const matchR = new Int32Array(rightCount).fill(-1);
  const dist = new Int32Array(n);
  const bfs = (): boolean => {
    const queue: number[] = [];
    let found = false;
    for (let u = 0; u < n; u++) {
      if (matchL[u] === -1) {
        dist[u] = 0;
        queue.push(u);
      } else dist[u] = -1;
    }
    for (let h = 0; h < queue.length; h++) {
      const u = queue[h]!;
      for (const v of adj[u]!) {
        const w = matchR[v]!;
        if (w === -1) found = true;
        else if (dist[w] === -1) {
          dist[w] = dist[u]! + 1;
          queue.push(w);
        }
      }
    }
    return found;
  };
  const dfs = (u: number): boolean => {
    for (const v of adj[u]!) {
      const w = matchR[v]!;
      if (w === -1 || (dist[w] === dist[u]! + 1 && dfs(w))) {
        matchL[u] = v;
        matchR[v] = u;
        return true;
      }
    }
    dist[u] = -1;
    return false;
  };
  while (bfs()) for (let u = 0; u < n; u++) if (matchL[u] === -1) dfs(u);
  return matchL;
}

/** Runs the reference method on the given offers. */
export function referenceAllocate(
  customers: ReadonlyArray<{ id: Bytes32; offer: CustomerOffer }>,
  suppliers: ReadonlyArray<{ id: Bytes32; offer: SupplierOffer }>,
): ReferenceResult {
  const adj = customers.map((c) => {
    const list: number[] = [];
    suppliers.forEach((s, j) => {
      if (edge(s.offer, c.offer)) list.push(j);
    });
    return list;
  });
  const match = hopcroftKarp(adj, suppliers.length);
  const buyers: number[] = [];
  const sellers: number[] = [];
  match.forEach((j, i) => {
    if (j >= 0) {
      buyers.push(i);
      sellers.push(j);
    }
  });
  buyers.sort((a, b) => {
    const x = customers[a]!.offer.maxPricePerMi;
    const y = customers[b]!.offer.maxPricePerMi;
    return x > y ? -1 : x < y ? 1 : a - b;
  });
  sellers.sort((a, b) => {
    const x = suppliers[a]!.offer.minPricePerMi;
    const y = suppliers[b]!.offer.minPricePerMi;
    return x < y ? -1 : x > y ? 1 : a - b;
  });
  const pairs: ReferencePair[] = buyers.map((i, k) => {
    const c = customers[i]!;
    const s = suppliers[sellers[k]!]!;
    return {
      customerOfferId: c.id,
      supplierOfferId: s.id,
      start: Math.max(s.offer.start, c.offer.start),
      end: Math.min(s.offer.end, c.offer.end),
      pricePerMi: (c.offer.maxPricePerMi + s.offer.minPricePerMi) / 2n,
    };
  });
  return { pairs, matched: pairs.length };
}
