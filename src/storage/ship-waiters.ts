// Who waits for read-your-writes (Shipper.synced: an answer read from PostgreSQL after this process's
// own writes): each waiter holds how far the spool had gone when it asked (ship_log's newest seq, each
// marked table's top) and is let go once the shipper has shipped that far, or refused after its
// timeout with ESPOOLBEHIND (the API answers 503, retry). Apart from the shipper's loop because it
// is only bookkeeping: the shipper says what has left the spool, this says who that releases.
/** How far the spool had gone when a waiter asked: ship_log's newest seq, and per marked table its top. */
export interface SpoolPoint {
  seq: number;
  tops: Array<[string, number]>;
}

export class SyncWaiters {
  private waiters: Array<SpoolPoint & { resolve(): void; reject(e: Error): void }> = [];

  get empty(): boolean {
    return !this.waiters.length;
  }

  /** Resolves once `release` lets `point` go; after `timeoutMs`, rejects with ESPOOLBEHIND saying `behind()`. */
  wait(point: SpoolPoint, timeoutMs: number, behind: () => string): Promise<void> {
    return new Promise((resolve, reject) => {
      const w = { ...point, resolve, reject };
      this.waiters.push(w);
      setTimeout(() => {
        const i = this.waiters.indexOf(w);
        if (i < 0) return;
        this.waiters.splice(i, 1);
        // ECONNREFUSED-like: the API answers 503 (retry), as when PostgreSQL itself is away.
        reject(Object.assign(new Error(behind()), { code: 'ESPOOLBEHIND' }));
      }, timeoutMs).unref();
    });
  }

  /**
   * Resolves the waiters whose changes have all left the spool: no entry at or below their seq
   * remains (`first`: the lowest entry left, null when none), and `shipped` says each marked table
   * went as high as it was when they asked.
   */
  release(first: number | null, shipped: (name: string, top: number) => boolean): void {
    this.waiters = this.waiters.filter((w) => {
      if ((first === null || w.seq < first) && w.tops.every(([name, top]) => shipped(name, top))) {
        w.resolve();
        return false;
      }
      return true;
    });
  }

  /** The shipper stopped: no one waits for what will not ship in this process's life. */
  rejectAll(err: Error): void {
    for (const w of this.waiters.splice(0)) w.reject(err);
  }
}
