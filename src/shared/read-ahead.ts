/**
 * Yields what `source` yields, in order, in groups: the items that arrived while the consumer was
 * busy with the last group come together. The source is asked for its next item as soon as there
 * is room, so its wait (a page's HTTP round trip) overlaps the consumer's work (storing pages), and
 * a consumer slower than the source takes several items at once (one transaction for the pages
 * that queued behind a busy store, instead of one each). At most `depth` items wait to be taken
 * besides the one being read. A failure of the source surfaces after the items before it were
 * handed out, never as an unhandled rejection; a consumer that stops early closes the source.
 */
export async function* readAheadGroups<T>(source: AsyncIterable<T>, depth = 1): AsyncGenerator<T[]> {
  const iterator = source[Symbol.asyncIterator]();
  const ready: Array<Settled<T>> = [];
  let reading: Promise<void> | undefined;
  let ended = false;
  const readMore = (): void => {
    if (reading || ended || ready.length >= depth) return;
    reading = settled(iterator.next()).then((result) => {
      reading = undefined;
      ready.push(result);
      if (!result.ok || result.value.done) ended = true;
      readMore();
    });
  };
  let finished = false;
  try {
    for (;;) {
      readMore();
      while (ready.length === 0) await reading;
      const group: T[] = [];
      for (let head = ready[0]; head?.ok && !head.value.done; head = ready[0]) {
        group.push(head.value.value);
        ready.shift();
      }
      if (group.length > 0) {
        readMore();
        yield group;
        continue;
      }
      const last = ready.shift() as Settled<T>;
      finished = true;
      if (!last.ok) throw last.error;
      return;
    }
  } finally {
    if (!finished) {
      // A read may still be in flight: let it end before closing the source after it.
      while (reading) await reading;
      await iterator.return?.();
    }
  }
}

type Settled<T> = { ok: true; value: IteratorResult<T> } | { ok: false; error: unknown };

function settled<T>(promise: Promise<IteratorResult<T>>): Promise<Settled<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  );
}
