import { useCallback, useEffect, useRef, useState } from 'react';
import { Link, useMatch, useSearchParams } from 'react-router';
import type { InboxItem } from '../api/center-types';
import { CheckAllIcon, DoneIcon, EmptyInboxIcon } from '../components/icons';
import { EmptyState, ErrorState, InlineError, Loading } from '../components/states';
import { useNow } from '../components/use-now';
import { useI18n } from '../i18n/i18n-provider';
import { useSession } from '../session/session-provider';
import { useLiveInbox } from './live-inbox';
import { MessageDetail } from './message-detail';
import { useInboxList } from './use-inbox-list';

/**
 * The inbox: filters, the list (newest first, live), and the open message beside it on a wide
 * screen or instead of it on a phone. The filters live in the URL (`?category=…&unread=1`).
 */
export function InboxPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const { api } = useSession();
  const live = useLiveInbox();
  const now = useNow();
  const [params, setParams] = useSearchParams();
  const openId = useMatch('/messages/:id')?.params.id ?? null;
  const category = params.get('category');
  const unreadOnly = params.get('unread') === '1';
  const list = useInboxList({ category, unreadOnly });
  const [markAllError, setMarkAllError] = useState<unknown>(null);
  const query = params.toString() ? `?${params.toString()}` : '';

  const setFilter = (next: { category?: string | null; unreadOnly?: boolean }) => {
    const p = new URLSearchParams(params);
    const c = next.category === undefined ? category : next.category;
    const u = next.unreadOnly ?? unreadOnly;
    if (c) p.set('category', c);
    else p.delete('category');
    if (u) p.set('unread', '1');
    else p.delete('unread');
    setParams(p, { replace: true });
  };

  async function markAllRead() {
    setMarkAllError(null);
    try {
      await api.markAllRead();
      list.markAllRead(new Date().toISOString());
      live.setUnread(() => 0);
    } catch (err) {
      setMarkAllError(err);
    }
  }

  const { replace } = list;
  const onRead = useCallback((item: InboxItem) => replace(item), [replace]);
  const categoryName = (key: string) => {
    const c = live.categories?.find((x) => x.key === key);
    return c ? i18n.pick(c.name, key) : null;
  };
  const unread = live.unread ?? 0;

  return (
    <div className={`inbox${openId ? ' inbox-has-open' : ''}`}>
      <section className="inbox-list-pane" aria-labelledby="inbox-title">
        <div className="page-head">
          <div>
            <h1 id="inbox-title" className="page-title">
              {t('inbox.title')}
            </h1>
            <p className="page-sub" data-testid="unread-summary">
              {t('inbox.unread', { count: unread })}
            </p>
          </div>
          <button
            type="button"
            className="button button-small"
            onClick={() => void markAllRead()}
            disabled={unread === 0}
          >
            <CheckAllIcon size={18} />
            <span>{t('inbox.markAllRead')}</span>
          </button>
        </div>
        {markAllError !== null && <InlineError error={markAllError} />}
        <div className="filters" role="group" aria-label={t('inbox.filters')}>
          <select
            className="select"
            aria-label={t('message.category')}
            value={category ?? ''}
            onChange={(e) => setFilter({ category: e.target.value || null })}
          >
            <option value="">{t('inbox.allCategories')}</option>
            {(live.categories ?? []).map((c) => (
              <option key={c.key} value={c.key}>
                {i18n.pick(c.name, c.key)}
              </option>
            ))}
          </select>
          <label className="chip-toggle">
            <input
              type="checkbox"
              checked={unreadOnly}
              onChange={(e) => setFilter({ unreadOnly: e.target.checked })}
            />
            <span>{t('inbox.unreadOnly')}</span>
          </label>
        </div>

        {list.status === 'loading' && <Loading />}
        {list.status === 'error' && <ErrorState error={list.error} onRetry={list.reload} />}
        {list.status === 'ready' && list.items.length === 0 && (
          <EmptyInbox
            category={category}
            unreadOnly={unreadOnly}
            onShowAll={() => setFilter({ category: null, unreadOnly: false })}
          />
        )}
        {list.status === 'ready' && list.items.length > 0 && (
          <>
            <ul className="inbox-list" data-testid="inbox-list">
              {list.items.map((item) => (
                <li key={item.id}>
                  <Link
                    to={`/messages/${encodeURIComponent(item.id)}${query}`}
                    className={`inbox-item${item.readAt === null ? ' unread' : ''}${
                      item.id === openId ? ' open' : ''
                    }`}
                    aria-current={item.id === openId ? 'true' : undefined}
                    data-testid="inbox-item"
                  >
                    <span className="inbox-item-top">
                      {item.readAt === null && (
                        <span
                          className="unread-dot"
                          role="img"
                          aria-label={t('inbox.unreadMark')}
                        />
                      )}
                      <span className="inbox-item-source">{item.source.name}</span>
                      {categoryName(item.category) && (
                        <span className="tag tag-quiet">{categoryName(item.category)}</span>
                      )}
                      <time
                        className="inbox-item-time"
                        dateTime={item.createdAt}
                        title={i18n.dateTime(item.createdAt, { zone: true })}
                      >
                        {i18n.relative(item.createdAt, now)}
                      </time>
                    </span>
                    <span className="inbox-item-title">{item.title}</span>
                    <span className="inbox-item-snippet">{item.body}</span>
                  </Link>
                </li>
              ))}
            </ul>
            <MoreItems list={list} />
          </>
        )}
      </section>
      <section className="inbox-open-pane">
        {openId ? (
          <MessageDetail
            key={openId}
            id={openId}
            known={list.items.find((i) => i.id === openId)}
            backTo={`/${query}`}
            onRead={onRead}
          />
        ) : list.items.length === 0 ? null : (
          <div className="inbox-pick">
            <EmptyInboxIcon size={56} />
            <p>{t('message.pick')}</p>
          </div>
        )}
      </section>
    </div>
  );
}

function EmptyInbox(props: {
  category: string | null;
  unreadOnly: boolean;
  onShowAll: () => void;
}) {
  const { t } = useI18n();
  const filtered = props.category !== null || props.unreadOnly;
  const action = filtered ? (
    <button type="button" className="button" onClick={props.onShowAll}>
      {t('inbox.showAll')}
    </button>
  ) : undefined;
  if (props.unreadOnly)
    return (
      <EmptyState
        icon={<DoneIcon size={56} />}
        title={t('inbox.emptyUnread.title')}
        action={action}
      >
        {t('inbox.emptyUnread.body')}
      </EmptyState>
    );
  if (props.category !== null)
    return (
      <EmptyState
        icon={<EmptyInboxIcon size={56} />}
        title={t('inbox.emptyCategory.title')}
        action={action}
      >
        {t('inbox.emptyCategory.body')}
      </EmptyState>
    );
  return (
    <EmptyState icon={<EmptyInboxIcon size={56} />} title={t('inbox.empty.title')}>
      {t('inbox.empty.body')}
    </EmptyState>
  );
}

/** Loads the next page when its sentinel scrolls into view; a button does the same. */
function MoreItems({ list }: { list: ReturnType<typeof useInboxList> }) {
  const { t } = useI18n();
  const sentinel = useRef<HTMLDivElement>(null);
  const { hasMore, loadingMore, moreError, loadMore } = list;
  useEffect(() => {
    const el = sentinel.current;
    if (!el || !hasMore || moreError || typeof IntersectionObserver === 'undefined') return;
    const observer = new IntersectionObserver((entries) => {
      if (entries.some((e) => e.isIntersecting)) loadMore();
    });
    observer.observe(el);
    return () => observer.disconnect();
  }, [hasMore, moreError, loadMore]);

  if (!hasMore) return <p className="list-end">{t('inbox.end')}</p>;
  return (
    <div ref={sentinel} className="list-more">
      {moreError !== null && <InlineError error={moreError} />}
      {loadingMore ? (
        <Loading />
      ) : (
        <button type="button" className="button" onClick={loadMore}>
          {t('inbox.loadMore')}
        </button>
      )}
    </div>
  );
}
