/**
 * Yields what `source` yields, asking it for the next item as soon as one is handed out: the
 * source's wait (a page's HTTP round trip) overlaps the consumer's work on the item (storing the
 * page). At most one item is read ahead. A failure of the read-ahead surfaces where that item
 * would have been consumed, never as an unhandled rejection; a consumer that stops early closes
 * the source.
 */
export async function* readAhead<T>(source: AsyncIterable<T>): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let next = settled(iterator.next());
  let finished = false;
  try {
    for (;;) {
      const result = await next;
      if (!result.ok) {
        finished = true;
        throw result.error;
      }
      if (result.value.done) {
        finished = true;
        return;
      }
      next = settled(iterator.next());
      yield result.value.value;
    }
  } finally {
    if (!finished) {
      // The read ahead may still be in flight: let it end before closing the source after it.
      await next;
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
