// Bounded concurrency for what the use cases run side by side in one round (commits, accept
// records): at most `limit` tasks at once, a task waiting for a free slot. Fan-outs over a list use
// core's mapLimited instead.

/** At most `limit` tasks at once; a freed slot goes straight to the longest-waiting task. */
export class Semaphore {
  #free: number;
  readonly #waiting: Array<() => void> = [];

  constructor(limit: number) {
    this.#free = Math.max(1, limit);
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#free > 0) this.#free--;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#free++;
    }
  }
}
