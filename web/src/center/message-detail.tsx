import { useEffect, useRef, useState } from 'react';
import { Link } from 'react-router';
import type { InboxItem } from '../api/center-types';
import { BackIcon, ExternalIcon } from '../components/icons';
import { ErrorState, Loading } from '../components/states';
import { useNow } from '../components/use-now';
import { useI18n } from '../i18n/i18n-provider';
import { useSession } from '../session/session-provider';
import { useLiveInbox } from './live-inbox';
import { safeLink } from './safe-url';

export interface MessageDetailProps {
  readonly id: string;
  /** The item as the list has it, shown at once while it is marked read. */
  readonly known: InboxItem | undefined;
  readonly backTo: string;
  readonly onRead: (item: InboxItem) => void;
}

/** One message in full. Opening it marks it read (POST …/read answers the item). */
export function MessageDetail({ id, known, backTo, onRead }: MessageDetailProps) {
  const i18n = useI18n();
  const { t } = i18n;
  const { api } = useSession();
  const live = useLiveInbox();
  const now = useNow();
  const [item, setItem] = useState<InboxItem | null>(known ?? null);
  const [error, setError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const counted = useRef<string | null>(null);
  const wasUnread = known?.readAt === null;

  useEffect(() => {
    let cancelled = false;
    setError(null);
    api.markRead(id).then(
      (read) => {
        if (cancelled) return;
        setItem(read);
        onRead(read);
        if (wasUnread && counted.current !== id) {
          counted.current = id;
          live.setUnread((n) => n - 1);
        }
      },
      (err: unknown) => !cancelled && setError(err),
    );
    return () => {
      cancelled = true;
    };
    // Marks read once per opened id; `known` and `onRead` change with every list update.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [api, id, attempt]);

  const shown = item?.id === id ? item : (known ?? null);
  const back = (
    <Link to={backTo} className="back-link">
      <BackIcon size={18} />
      <span>{t('message.back')}</span>
    </Link>
  );
  if (error && !shown)
    return (
      <section className="message-detail">
        {back}
        <ErrorState error={error} onRetry={() => setAttempt((a) => a + 1)} />
      </section>
    );
  if (!shown)
    return (
      <section className="message-detail">
        {back}
        <Loading />
      </section>
    );

  const link = safeLink(shown.url);
  const category = live.categories?.find((c) => c.key === shown.category);
  return (
    <article className="message-detail" aria-labelledby="message-title">
      {back}
      <h1 id="message-title" className="message-title">
        {shown.title}
      </h1>
      <dl className="message-meta">
        <div>
          <dt>{t('message.from')}</dt>
          <dd>{shown.source.name}</dd>
        </div>
        <div>
          <dt>{t('message.category')}</dt>
          <dd>{category ? i18n.pick(category.name, shown.category) : shown.category}</dd>
        </div>
        <div>
          <dt>{t('message.received')}</dt>
          <dd>
            <time dateTime={shown.createdAt}>{i18n.dateTime(shown.createdAt, { zone: true })}</time>
            <span className="muted"> · {i18n.relative(shown.createdAt, now)}</span>
          </dd>
        </div>
      </dl>
      <div className="message-body">{shown.body}</div>
      {link && (
        <a className="button button-primary" href={link} target="_blank" rel="noopener noreferrer">
          <span>{t('message.openLink')}</span>
          <ExternalIcon size={18} />
        </a>
      )}
    </article>
  );
}
