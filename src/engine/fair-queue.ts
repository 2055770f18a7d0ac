/**
 * The wait queue, fair across clients: one FIFO per client key, served round-robin, so a client
 * with a thousand queued requests delays another client's single request by at most one of its own.
 */
export class FairQueue<T> {
  private readonly queues = new Map<string, T[]>();
  /** Keys with waiting items, in the order they are served next. */
  private ring: string[] = [];
  private size = 0;

  get length(): number {
    return this.size;
  }

  push(key: string, item: T): void {
    let q = this.queues.get(key);
    if (!q) {
      q = [];
      this.queues.set(key, q);
      this.ring.push(key);
    }
    q.push(item);
    this.size++;
  }

  /** The next item: the oldest of the key whose turn it is; that key then goes to the back. */
  shift(): T | undefined {
    const key = this.ring.shift();
    if (key === undefined) return undefined;
    const q = this.queues.get(key)!;
    const item = q.shift()!;
    this.size--;
    if (q.length > 0) this.ring.push(key);
    else this.queues.delete(key);
    return item;
  }

  /** Removes (and returns) every item for which `predicate` holds, keeping the others' order. */
  removeWhere(predicate: (item: T) => boolean): T[] {
    const removed: T[] = [];
    for (const [key, q] of this.queues) {
      const kept = q.filter((item) => !(predicate(item) && removed.push(item)));
      if (kept.length === q.length) continue;
      if (kept.length > 0) this.queues.set(key, kept);
      else this.queues.delete(key);
    }
    if (removed.length > 0) {
      this.size -= removed.length;
      this.ring = this.ring.filter((k) => this.queues.has(k));
    }
    return removed;
  }

  /** Waiting items per key. */
  counts(): Map<string, number> {
    return new Map([...this.queues].map(([k, q]) => [k, q.length]));
  }
}
