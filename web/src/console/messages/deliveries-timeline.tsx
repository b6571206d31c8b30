import { useEffect, useRef, useState } from 'react';
import type { Delivery } from '../../api/console-types';
import { EmptyState, ErrorState, InlineError, Loading } from '../../components/states';
import { useI18n } from '../../i18n/i18n-provider';
import { ChevronIcon, SearchIcon } from '../console-icons';
import { channelLabel, formatDuration, outcomeLabel, reasonLabel } from '../labels';
import { useConsoleApi } from '../operator-session';
import { DeliveryStatus, LoadMore } from '../ui';
import { usePagedList } from '../use-resource';

const STATUSES = ['queued', 'sent', 'delivered', 'failed', 'dead', 'suppressed'] as const;

/**
 * Every delivery of a message (one per recipient × channel) with its attempts: when, through
 * which provider, with what outcome and error. Searchable by recipient name or id.
 */
export function DeliveriesTimeline({
  messageId,
  channels,
  refreshKey,
}: {
  readonly messageId: string;
  readonly channels: readonly string[];
  /** Changes when the message's counts change: the list is read again. */
  readonly refreshKey: string;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const [text, setText] = useState('');
  const [q, setQ] = useState('');
  const [channel, setChannel] = useState('');
  const [status, setStatus] = useState('');

  useEffect(() => {
    const timer = setTimeout(() => setQ(text.trim()), 350);
    return () => clearTimeout(timer);
  }, [text]);

  const search = { q: q || undefined, channel: channel || undefined, status: status || undefined };
  const list = usePagedList(`${messageId}|${JSON.stringify(search)}`, (cursor) =>
    api.deliveries(messageId, { ...search, cursor }),
  );

  const first = useRef(true);
  const { reload } = list;
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    reload();
  }, [refreshKey, reload]);

  const filtered = Boolean(q || channel || status);

  return (
    <section className="card" aria-labelledby="deliveries-title">
      <h2 className="card-title" id="deliveries-title">
        {t('con.tl.title')}
      </h2>
      <p className="card-hint">{t('con.tl.hint')}</p>
      <form className="filter-bar" role="search" onSubmit={(e) => e.preventDefault()}>
        <label className="search">
          <SearchIcon size={16} />
          <span className="visually-hidden">{t('con.tl.search')}</span>
          <input
            type="search"
            name="recipient"
            value={text}
            placeholder={t('con.tl.search')}
            onChange={(e) => setText(e.target.value)}
          />
        </label>
        <label className="filter-field">
          {t('con.dash.channel')}
          <select className="select" value={channel} onChange={(e) => setChannel(e.target.value)}>
            <option value="">{t('con.all')}</option>
            {channels.map((c) => (
              <option key={c} value={c}>
                {channelLabel(i18n, c)}
              </option>
            ))}
          </select>
        </label>
        <label className="filter-field">
          {t('con.msgs.status')}
          <select className="select" value={status} onChange={(e) => setStatus(e.target.value)}>
            <option value="">{t('con.all')}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`con.delivery.${s}`)}
              </option>
            ))}
          </select>
        </label>
      </form>
      {list.loading && list.items.length === 0 ? (
        <Loading />
      ) : list.error && list.items.length === 0 ? (
        <ErrorState error={list.error} onRetry={list.reload} />
      ) : list.items.length === 0 ? (
        <EmptyState
          icon={<SearchIcon size={36} />}
          title={filtered ? t('con.tl.noMatch') : t('con.tl.empty')}
        />
      ) : (
        <>
          <ol className="deliveries" data-testid="deliveries">
            {list.items.map((d) => (
              <DeliveryItem key={d.id} delivery={d} />
            ))}
          </ol>
          {list.error ? <InlineError error={list.error} /> : null}
          <LoadMore
            hasMore={list.hasMore}
            loading={list.loadingMore}
            onMore={list.loadMore}
            count={list.items.length}
          />
        </>
      )}
    </section>
  );
}

function DeliveryItem({ delivery: d }: { readonly delivery: Delivery }) {
  const i18n = useI18n();
  const { t } = i18n;
  const [open, setOpen] = useState(false);
  const log = d.attemptLog ?? [];
  return (
    <li className="delivery" data-testid="delivery" data-status={d.status}>
      <div className="delivery-main">
        <div className="delivery-who">
          <span className="delivery-name">{d.recipient.name}</span>
          <span className="muted small mono">{d.recipient.externalId}</span>
        </div>
        <span className="tag tag-quiet">{channelLabel(i18n, d.channel)}</span>
        <DeliveryStatus status={d.status} />
        <span className="delivery-time muted small">
          <time dateTime={d.updatedAt}>{i18n.dateTime(d.updatedAt)}</time>
        </span>
      </div>
      <div className="delivery-facts small">
        {d.reason && <span>{reasonLabel(i18n, d.reason)}</span>}
        {d.provider && <span>{t('con.tl.provider', { name: d.provider })}</span>}
        {d.fallbackFrom && (
          <span>{t('con.tl.fallback', { channel: channelLabel(i18n, d.fallbackFrom) })}</span>
        )}
        <span>{t('con.tl.locale', { locale: d.locale })}</span>
      </div>
      {d.lastError && d.status !== 'sent' && d.status !== 'delivered' && (
        <p className="delivery-error small">{d.lastError}</p>
      )}
      {log.length > 0 && (
        <>
          <button
            type="button"
            className="disclosure"
            aria-expanded={open}
            onClick={() => setOpen(!open)}
          >
            <ChevronIcon size={16} />
            {t('con.tl.attempts', { count: log.length })}
          </button>
          {open && (
            <ol className="attempts" data-testid="attempts">
              {log.map((a) => {
                const ms = Date.parse(a.finishedAt) - Date.parse(a.startedAt);
                const tone =
                  a.outcome === 'permanent' ? 'bad' : a.outcome === 'transient' ? 'wait' : 'ok';
                return (
                  <li key={a.attempt} className={`attempt attempt-${tone}`}>
                    <div className="attempt-line">
                      <strong>#{a.attempt}</strong>
                      <time dateTime={a.startedAt}>{i18n.dateTime(a.startedAt)}</time>
                      <span>{a.provider}</span>
                      <span className={`attempt-outcome ${tone}`}>
                        {outcomeLabel(i18n, a.outcome)}
                      </span>
                      <span className="muted">{formatDuration(Math.max(0, ms), i18n)}</span>
                    </div>
                    {a.error && <p className="attempt-error">{a.error}</p>}
                  </li>
                );
              })}
            </ol>
          )}
        </>
      )}
      {log.length === 0 && d.status !== 'suppressed' && (
        <p className="muted small">{t('con.tl.noAttempts')}</p>
      )}
    </li>
  );
}
