import type { InboxItem } from '../api/center-types';

export type LiveStatus = 'connecting' | 'open' | 'reconnecting';

export interface InboxStreamOptions {
  /** The newest seq the app has seen: the stream sends everything after it, then live items. */
  readonly head: () => Promise<number>;
  readonly onItem: (item: InboxItem) => void;
  readonly onUnread: (unread: number) => void;
  readonly onStatus: (status: LiveStatus) => void;
  /** Herald refused the stream (401, 429, 503 …): asked before each new attempt. */
  readonly stillSignedIn: () => Promise<boolean>;
  readonly url?: string;
}

const FIRST_RETRY_MS = 2_000;
const MAX_RETRY_MS = 30_000;

/**
 * The live inbox over Server-Sent Events (`GET /v1/me/inbox/stream`, authenticated by the
 * session cookie). While the connection only drops, the browser reconnects by itself and
 * resumes with `Last-Event-ID`. When Herald answers with an error instead (EventSource then
 * gives up for good), this reconnects with a growing delay and `?after=<last seq>`, so no item
 * is lost or shown twice. Returns a function that stops it.
 */
export function openInboxStream(options: InboxStreamOptions): () => void {
  const base = options.url ?? '/v1/me/inbox/stream';
  let lastSeq: number | null = null;
  let source: EventSource | null = null;
  let retryMs = FIRST_RETRY_MS;
  let timer: ReturnType<typeof setTimeout> | null = null;
  let stopped = false;

  const retryLater = (attempt: () => void) => {
    if (stopped) return;
    options.onStatus('reconnecting');
    timer = setTimeout(attempt, retryMs);
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  };

  const connect = () => {
    if (stopped) return;
    const es = new EventSource(lastSeq === null ? base : `${base}?after=${lastSeq}`);
    source = es;
    es.onopen = () => {
      retryMs = FIRST_RETRY_MS;
      options.onStatus('open');
    };
    es.addEventListener('inbox', (e) => {
      const item = JSON.parse((e as MessageEvent<string>).data) as InboxItem;
      if (lastSeq !== null && item.seq <= lastSeq) return;
      lastSeq = item.seq;
      options.onItem(item);
    });
    es.addEventListener('unread', (e) => {
      options.onUnread((JSON.parse((e as MessageEvent<string>).data) as { unread: number }).unread);
    });
    es.onerror = () => {
      if (stopped) return;
      if (es.readyState === EventSource.CONNECTING) {
        options.onStatus('reconnecting');
        return;
      }
      // CLOSED: Herald answered with an error status; the browser will not try again.
      es.close();
      source = null;
      retryLater(() => {
        void options.stillSignedIn().then(
          (yes) => (yes ? connect() : undefined),
          () => retryLater(connect),
        );
      });
    };
  };

  const start = () => {
    options.onStatus('connecting');
    options.head().then(
      (seq) => {
        lastSeq = seq;
        connect();
      },
      () => retryLater(start),
    );
  };
  start();

  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    source?.close();
  };
}
