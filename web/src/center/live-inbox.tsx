import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import type { ReactNode } from 'react';
import { isApiError } from '../api/api-error';
import type { CategoryPreference, InboxItem } from '../api/center-types';
import { useSession } from '../session/session-provider';
import { openInboxStream, type LiveStatus } from './inbox-stream';

export interface LiveInbox {
  /** Unread items, from the stream (null until first known). */
  readonly unread: number | null;
  readonly status: LiveStatus;
  /** Hears every item the stream brings; returns the unsubscribe. */
  subscribe(listener: (item: InboxItem) => void): () => void;
  /** Corrects the count at once after the user's own action; the stream confirms it. */
  setUnread(update: (unread: number) => number): void;
  /** The categories with their names in both languages (null while loading or on failure). */
  readonly categories: readonly CategoryPreference[] | null;
  setCategories(categories: readonly CategoryPreference[]): void;
}

const LiveInboxContext = createContext<LiveInbox | null>(null);

/** One live stream per signed-in tab, shared by the badge, the title and the inbox list. */
export function LiveInboxProvider({ children }: { children: ReactNode }) {
  const { api } = useSession();
  const [unread, setUnreadState] = useState<number | null>(null);
  const [status, setStatus] = useState<LiveStatus>('connecting');
  const [categories, setCategories] = useState<readonly CategoryPreference[] | null>(null);
  const listeners = useRef(new Set<(item: InboxItem) => void>());

  useEffect(
    () =>
      openInboxStream({
        head: async () => {
          const page = await api.inbox({ limit: 1 });
          setUnreadState(page.unread);
          return page.items[0]?.seq ?? 0;
        },
        onItem: (item) => {
          for (const listener of listeners.current) listener(item);
        },
        onUnread: setUnreadState,
        onStatus: setStatus,
        stillSignedIn: async () => {
          try {
            await api.me();
            return true;
          } catch (error) {
            if (isApiError(error, 'unauthenticated')) return false;
            throw error;
          }
        },
      }),
    [api],
  );

  useEffect(() => {
    let cancelled = false;
    api.preferences().then(
      (prefs) => !cancelled && setCategories(prefs.categories),
      // Names are a nicety here: without them the inbox shows category keys' sources instead.
      () => undefined,
    );
    return () => {
      cancelled = true;
    };
  }, [api]);

  const subscribe = useCallback((listener: (item: InboxItem) => void) => {
    listeners.current.add(listener);
    return () => void listeners.current.delete(listener);
  }, []);

  const setUnread = useCallback(
    (update: (unread: number) => number) =>
      setUnreadState((n) => (n === null ? n : Math.max(0, update(n)))),
    [],
  );

  const value = useMemo<LiveInbox>(
    () => ({ unread, status, subscribe, setUnread, categories, setCategories }),
    [unread, status, subscribe, setUnread, categories],
  );
  return <LiveInboxContext.Provider value={value}>{children}</LiveInboxContext.Provider>;
}

export function useLiveInbox(): LiveInbox {
  const live = useContext(LiveInboxContext);
  if (!live) throw new Error('useLiveInbox() outside <LiveInboxProvider>');
  return live;
}
