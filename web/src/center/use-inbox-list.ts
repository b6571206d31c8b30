import { useCallback, useEffect, useRef, useState } from 'react';
import type { InboxItem } from '../api/center-types';
import { useSession } from '../session/session-provider';
import { useLiveInbox } from './live-inbox';

export interface InboxFilter {
  readonly category: string | null;
  readonly unreadOnly: boolean;
}

export interface InboxList {
  readonly items: readonly InboxItem[];
  readonly status: 'loading' | 'ready' | 'error';
  readonly error: unknown;
  readonly hasMore: boolean;
  readonly loadingMore: boolean;
  readonly moreError: unknown;
  reload(): void;
  loadMore(): void;
  /** Puts a changed item (read now) in place of the old one. */
  replace(item: InboxItem): void;
  markAllRead(readAt: string): void;
}

const PAGE = 20;

/** Newest first, by seq; one entry per id. */
function merge(a: readonly InboxItem[], b: readonly InboxItem[]): InboxItem[] {
  const byId = new Map<string, InboxItem>();
  for (const item of [...a, ...b]) if (!byId.has(item.id)) byId.set(item.id, item);
  return [...byId.values()].sort((x, y) => y.seq - x.seq);
}

const matches = (f: InboxFilter, item: InboxItem) =>
  (f.category === null || item.category === f.category) && (!f.unreadOnly || item.readAt === null);

/** The inbox as the list shows it: pages by cursor, live items merged in at the top. */
export function useInboxList(filter: InboxFilter): InboxList {
  const { api } = useSession();
  const live = useLiveInbox();
  const [items, setItems] = useState<readonly InboxItem[]>([]);
  const [status, setStatus] = useState<InboxList['status']>('loading');
  const [error, setError] = useState<unknown>(null);
  const [cursor, setCursor] = useState<string | null>(null);
  const [loadingMore, setLoadingMore] = useState(false);
  const [moreError, setMoreError] = useState<unknown>(null);
  const [generation, setGeneration] = useState(0);
  // Live items that arrive while the first page is loading, merged into it when it comes.
  const pending = useRef<InboxItem[]>([]);
  const loading = useRef(true);
  const { category, unreadOnly } = filter;

  useEffect(() => {
    let cancelled = false;
    loading.current = true;
    pending.current = [];
    setStatus('loading');
    setMoreError(null);
    api.inbox({ limit: PAGE, category, unread: unreadOnly }).then(
      (page) => {
        if (cancelled) return;
        loading.current = false;
        setItems(merge(pending.current, page.items));
        pending.current = [];
        setCursor(page.nextCursor);
        setStatus('ready');
      },
      (err: unknown) => {
        if (cancelled) return;
        loading.current = false;
        setError(err);
        setStatus('error');
      },
    );
    return () => {
      cancelled = true;
    };
  }, [api, category, unreadOnly, generation]);

  useEffect(
    () =>
      live.subscribe((item) => {
        if (!matches({ category, unreadOnly }, item)) return;
        if (loading.current) pending.current.push(item);
        else setItems((current) => merge([item], current));
      }),
    [live, category, unreadOnly],
  );

  // Read on another device (or tab): the stream says only how many are unread now. When that
  // is fewer than this list shows, ask again for the read marks of the items on screen.
  const shownUnread = items.filter((i) => i.readAt === null).length;
  const shownCount = items.length;
  useEffect(() => {
    if (status !== 'ready' || live.unread === null || live.unread >= shownUnread) return;
    let cancelled = false;
    api.inbox({ limit: Math.min(100, Math.max(shownCount, 1)), category, unread: unreadOnly }).then(
      (page) => {
        if (cancelled) return;
        const fresh = new Map(page.items.map((i) => [i.id, i]));
        setItems((current) => current.map((i) => (i.readAt === null ? (fresh.get(i.id) ?? i) : i)));
      },
      () => undefined, // The marks stay as they were; the next change asks again.
    );
    return () => {
      cancelled = true;
    };
  }, [api, live.unread, shownUnread, shownCount, status, category, unreadOnly]);

  const loadMore = useCallback(() => {
    if (!cursor || loadingMore) return;
    setLoadingMore(true);
    setMoreError(null);
    api.inbox({ limit: PAGE, category, unread: unreadOnly, cursor }).then(
      (page) => {
        setItems((current) => merge(current, page.items));
        setCursor(page.nextCursor);
        setLoadingMore(false);
      },
      (err: unknown) => {
        setMoreError(err);
        setLoadingMore(false);
      },
    );
  }, [api, category, unreadOnly, cursor, loadingMore]);

  return {
    items,
    status,
    error,
    hasMore: cursor !== null,
    loadingMore,
    moreError,
    reload: () => setGeneration((g) => g + 1),
    loadMore,
    replace: (item) => setItems((current) => current.map((i) => (i.id === item.id ? item : i))),
    markAllRead: (readAt) =>
      setItems((current) => current.map((i) => (i.readAt === null ? { ...i, readAt } : i))),
  };
}
