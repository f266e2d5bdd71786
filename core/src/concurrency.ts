// Bounded concurrency for the adapters and use cases that fan out requests (reads of many
// allocations, balances of many accounts, commits of one round): at most `limit` in flight, so
// one round cannot flood a table or an RPC endpoint.

/**
 * `fn` over every item with at most `limit` calls in flight; the results in the items' order.
 * A failed call does not stop the others (each item is independent: a commit that lost a race
 * must not keep the next one from being tried); once all have settled, the first error is thrown.
 */
export async function mapLimited<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  if (!Number.isInteger(limit) || limit < 1) {
    throw new RangeError(`limit must be a positive integer, got ${limit}`);
  }
  const results: R[] = new Array(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = await fn(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  if (failure) throw failure.error;
  return results;
}
