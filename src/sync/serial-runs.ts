/**
 * Runs of one key never overlap; a run asked for while one is going is served by one more run right
 * after it (however many asked meanwhile), so no request is lost and none piles up.
 */
export class SerialRuns<T> {
  readonly #running = new Map<string, Promise<T>>();
  readonly #again = new Map<string, Promise<T>>();

  constructor(private readonly run: (key: string) => Promise<T>) {}

  request(key: string): Promise<T> {
    const queued = this.#again.get(key);
    if (queued) return queued;
    const running = this.#running.get(key);
    if (running) {
      const next = running
        .catch(() => undefined)
        .then(() => {
          this.#again.delete(key);
          return this.#start(key);
        });
      this.#again.set(key, next);
      return next;
    }
    return this.#start(key);
  }

  /** Waits for every run in flight and queued. */
  async settle(): Promise<void> {
    await Promise.allSettled([...this.#running.values(), ...this.#again.values()]);
  }

  #start(key: string): Promise<T> {
    const run = this.run(key).finally(() => {
      if (this.#running.get(key) === run) this.#running.delete(key);
    });
    this.#running.set(key, run);
    return run;
  }
}
