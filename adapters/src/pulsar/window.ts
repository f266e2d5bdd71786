// A bounded window of in-flight operations: the client-side backpressure the broker's
// WebSocket producer path lacks (apache/pulsar#26373). `acquire` resolves immediately while
// fewer than `capacity` slots are taken, otherwise when a slot is released (FIFO order).

export class PendingWindow {
  readonly capacity: number;
  #inFlight = 0;
  readonly #waiters: Array<{ resolve: () => void; reject: (error: Error) => void }> = [];
  readonly #idle: Array<() => void> = [];

  constructor(capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`window capacity must be a positive integer, got ${capacity}`);
    }
    this.capacity = capacity;
  }

  /** Slots taken, including those handed to waiters. */
  get inFlight(): number {
    return this.#inFlight;
  }

  /** Callers waiting for a slot. */
  get waiting(): number {
    return this.#waiters.length;
  }

  /** Takes a slot without waiting; false when the window is full. */
  tryAcquire(): boolean {
    if (this.#inFlight >= this.capacity || this.#waiters.length > 0) return false;
    this.#inFlight++;
    return true;
  }

  /** Takes a slot, waiting in FIFO order while the window is full. */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve();
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /** Returns a slot; the oldest waiter (if any) takes it over. */
  release(): void {
    if (this.#inFlight === 0) throw new Error("PendingWindow.release without a matching acquire");
    const next = this.#waiters.shift();
    if (next) {
      next.resolve(); // the slot passes to the waiter: inFlight unchanged
      return;
    }
    this.#inFlight--;
    if (this.#inFlight === 0) for (const done of this.#idle.splice(0)) done();
  }

  /** Resolves when no slot is taken and nobody waits. */
  drained(): Promise<void> {
    if (this.#inFlight === 0 && this.#waiters.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Rejects every waiter (used on close); slots already taken stay taken until released. */
  rejectWaiters(error: Error): void {
    for (const w of this.#waiters.splice(0)) w.reject(error);
  }
}
