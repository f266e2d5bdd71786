// A bounded set that forgets its oldest entries: remembers recently acknowledged message ids
// and recently accepted message keys (replay protection) without growing without bound.

export class BoundedSet<T> {
  readonly capacity: number;
  readonly #items = new Set<T>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be ≥ 1, got ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.size;
  }

  has(item: T): boolean {
    return this.#items.has(item);
  }

  /** Adds the item (refreshing its age); returns false when it was already present. */
  add(item: T): boolean {
    const had = this.#items.delete(item);
    this.#items.add(item);
    if (this.#items.size > this.capacity) {
      const oldest = this.#items.values().next();
      if (!oldest.done) this.#items.delete(oldest.value);
    }
    return !had;
  }
}

/** A bounded map that forgets its least recently written entries. */
export class BoundedMap<K, V> {
  readonly capacity: number;
  readonly #items = new Map<K, V>();

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1)
      throw new RangeError(`capacity must be ≥ 1, got ${capacity}`);
    this.capacity = capacity;
  }

  get size(): number {
    return this.#items.size;
  }

  get(key: K): V | undefined {
    return this.#items.get(key);
  }

  set(key: K, value: V): void {
    this.#items.delete(key);
    this.#items.set(key, value);
    if (this.#items.size > this.capacity) {
      const oldest = this.#items.keys().next();
      if (!oldest.done) this.#items.delete(oldest.value);
    }
  }
}
