import { useCallback, useEffect, useRef, useState } from 'react';

export interface Resource<T> {
  /** The last answer (kept while a refresh runs or after a refresh failed). */
  readonly data: T | undefined;
  /** The last failure; cleared by the next success. */
  readonly error: unknown;
  /** A load is running (the first, a reload or a refresh). */
  readonly loading: boolean;
  /** When `data` was last received. */
  readonly updatedAt: Date | null;
  reload(): void;
}

/**
 * One thing loaded from Herald for a screen, again whenever `key` changes, and every
 * `refreshMs` when given (the dashboard, a message still being delivered). Answers to an
 * outdated key are dropped, so a fast typist never sees the results of an older search.
 */
export function useResource<T>(
  key: string | null,
  load: (signal: AbortSignal) => Promise<T>,
  options: {
    readonly refreshMs?: number;
    /** Keep showing the previous key's data until the new one arrives (a count while typing). */
    readonly keepPrevious?: boolean;
  } = {},
): Resource<T> {
  const [data, setData] = useState<T | undefined>(undefined);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(key !== null);
  const [updatedAt, setUpdatedAt] = useState<Date | null>(null);
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const lastKey = useRef<string | null>(null);
  const keepPrevious = options.keepPrevious ?? false;

  useEffect(() => {
    if (key === null) {
      setLoading(false);
      return;
    }
    if (lastKey.current !== key) {
      // A different thing: do not show the previous one's data under it (unless asked to).
      lastKey.current = key;
      if (!keepPrevious) setData(undefined);
      setError(null);
    }
    const controller = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = () => {
      setLoading(true);
      loadRef.current(controller.signal).then(
        (value) => {
          if (controller.signal.aborted) return;
          setData(value);
          setError(null);
          setUpdatedAt(new Date());
          setLoading(false);
          schedule();
        },
        (err: unknown) => {
          if (controller.signal.aborted) return;
          setError(err);
          setLoading(false);
          schedule();
        },
      );
    };
    const schedule = () => {
      if (options.refreshMs) timer = setTimeout(run, options.refreshMs);
    };
    run();
    return () => {
      controller.abort();
      clearTimeout(timer);
    };
  }, [key, generation, options.refreshMs, keepPrevious]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  return { data, error, loading, updatedAt, reload };
}

export interface PagedList<T> {
  readonly items: readonly T[];
  readonly error: unknown;
  /** The first page is loading (nothing to show yet). */
  readonly loading: boolean;
  /** A further page is loading. */
  readonly loadingMore: boolean;
  readonly hasMore: boolean;
  loadMore(): void;
  reload(): void;
  /** Replaces one item in place (after an action changed it). */
  replace(match: (item: T) => boolean, next: T): void;
}

/** A cursor-paginated list ("load more"), restarted whenever `key` changes. */
export function usePagedList<T>(
  key: string,
  loadPage: (
    cursor: string | null,
    signal: AbortSignal,
  ) => Promise<{ readonly items: readonly T[]; readonly nextCursor: string | null }>,
): PagedList<T> {
  const [items, setItems] = useState<readonly T[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(true);
  const [loadingMore, setLoadingMore] = useState(false);
  const [generation, setGeneration] = useState(0);
  const loadRef = useRef(loadPage);
  loadRef.current = loadPage;
  const moreController = useRef<AbortController | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    moreController.current?.abort();
    setLoading(true);
    setLoadingMore(false);
    setError(null);
    loadRef.current(null, controller.signal).then(
      (page) => {
        if (controller.signal.aborted) return;
        setItems(page.items);
        setCursor(page.nextCursor);
        setLoading(false);
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        setItems([]);
        setCursor(null);
        setError(err);
        setLoading(false);
      },
    );
    return () => controller.abort();
  }, [key, generation]);

  const loadMore = useCallback(() => {
    if (!cursor || loadingMore) return;
    const controller = new AbortController();
    moreController.current = controller;
    setLoadingMore(true);
    setError(null);
    loadRef.current(cursor, controller.signal).then(
      (page) => {
        if (controller.signal.aborted) return;
        setItems((prev) => [...prev, ...page.items]);
        setCursor(page.nextCursor);
        setLoadingMore(false);
      },
      (err: unknown) => {
        if (controller.signal.aborted) return;
        setError(err);
        setLoadingMore(false);
      },
    );
  }, [cursor, loadingMore]);

  const reload = useCallback(() => setGeneration((g) => g + 1), []);
  const replace = useCallback(
    (match: (item: T) => boolean, next: T) =>
      setItems((prev) => prev.map((item) => (match(item) ? next : item))),
    [],
  );
  return {
    items,
    error,
    loading,
    loadingMore,
    hasMore: cursor !== null,
    loadMore,
    reload,
    replace,
  };
}
