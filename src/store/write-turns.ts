/**
 * Turns at a store that writes through one connection (SQLite): one transaction at a time, and a
 * bulk transaction (a pull's pages of a backfill) goes only when no other is waiting. Without it the
 * turns went first come, first served, and a backfill's page groups, each holding the writer for
 * tens of milliseconds, kept the outbox from leasing and settling: the CRM calls, which a rate limit
 * paces, fell behind and went at the end, after the pull. Other work is paced or small, so a bulk
 * turn still comes between.
 */
export class WriteTurns {
  #busy = false;
  readonly #waiting: Array<() => void> = [];
  readonly #waitingBulk: Array<() => void> = [];

  async take<T>(bulk: boolean, work: () => Promise<T>): Promise<T> {
    if (this.#busy) await new Promise<void>((resolve) => (bulk ? this.#waitingBulk : this.#waiting).push(resolve));
    else this.#busy = true;
    try {
      return await work();
    } finally {
      // Handed straight to the next in line: nobody can slip in between.
      const next = this.#waiting.shift() ?? this.#waitingBulk.shift();
      if (next) next();
      else this.#busy = false;
    }
  }
}
