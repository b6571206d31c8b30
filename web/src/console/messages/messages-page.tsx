import { useEffect, useState } from 'react';
import { Link, useNavigate, useSearchParams } from 'react-router';
import type { Message } from '../../api/console-types';
import { EmptyState, ErrorState, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useNow } from '../../components/use-now';
import { dateInputInstant } from '../../i18n/format-time';
import { useI18n } from '../../i18n/i18n-provider';
import { MessagesIcon, SearchIcon, SendIcon } from '../console-icons';
import { categoryName } from '../labels';
import { useConsoleApi } from '../operator-session';
import { useCategories, useSources } from '../reference-data';
import { LoadMore, MessageStatusTag, PageHead } from '../ui';
import { usePagedList } from '../use-resource';
import { audienceText, dataSnippet } from './message-text';

const STATUSES = ['scheduled', 'accepted', 'fanning_out', 'dispatched', 'completed'] as const;
const FILTERS = ['q', 'source', 'category', 'status', 'since', 'until'] as const;

/** A calendar day (yyyy-mm-dd from a date input) in the operator's zone → its first instant. */
function dayStart(day: string, timeZone: string, plusDays = 0): string | undefined {
  return dateInputInstant(day, timeZone, plusDays)?.toISOString();
}

/** Every message, newest first, searchable by source, category, status, time and text. */
export function MessagesPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const categories = useCategories().data;
  const sources = useSources().data;
  const [params, setParams] = useSearchParams();
  const get = (name: (typeof FILTERS)[number]) => params.get(name) ?? '';
  const [text, setText] = useState(get('q'));
  useDocumentTitle(`${t('con.nav.messages')} · ${t('app.console')}`);

  const set = (name: (typeof FILTERS)[number], value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  };

  // The text search follows typing after a pause, like a search box should.
  useEffect(() => {
    const timer = setTimeout(() => {
      if (text.trim() !== get('q')) set('q', text.trim());
    }, 400);
    return () => clearTimeout(timer);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [text]);

  const search = {
    q: get('q') || undefined,
    source: get('source') || undefined,
    category: get('category') || undefined,
    status: get('status') || undefined,
    since: dayStart(get('since'), i18n.timeZone),
    until: dayStart(get('until'), i18n.timeZone, 1),
  };
  const list = usePagedList(JSON.stringify(search), (cursor) =>
    api.messages({ ...search, cursor }),
  );
  const filtered = FILTERS.some((f) => get(f));

  return (
    <div className="cpage">
      <PageHead
        title={t('con.nav.messages')}
        id="messages-title"
        sub={t('con.msgs.sub')}
        actions={
          <Link to="/admin/compose" className="button button-primary button-small">
            <SendIcon size={16} />
            {t('con.msgs.compose')}
          </Link>
        }
      />
      <form
        className="filter-bar"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          set('q', text.trim());
        }}
      >
        <label className="search">
          <SearchIcon size={16} />
          <span className="visually-hidden">{t('con.search')}</span>
          <input
            type="search"
            name="q"
            value={text}
            placeholder={t('con.msgs.searchHint')}
            onChange={(e) => setText(e.target.value)}
          />
        </label>
        <label className="filter-field">
          {t('con.msgs.source')}
          <select
            className="select"
            name="source"
            value={get('source')}
            onChange={(e) => set('source', e.target.value)}
          >
            <option value="">{t('con.all')}</option>
            {sources?.map((s) => (
              <option key={s.key} value={s.key}>
                {s.name}
              </option>
            ))}
          </select>
        </label>
        <label className="filter-field">
          {t('con.msgs.category')}
          <select
            className="select"
            name="category"
            value={get('category')}
            onChange={(e) => set('category', e.target.value)}
          >
            <option value="">{t('con.all')}</option>
            {categories?.map((c) => (
              <option key={c.key} value={c.key}>
                {i18n.pick(c.name, c.key)}
              </option>
            ))}
          </select>
        </label>
        <label className="filter-field">
          {t('con.msgs.status')}
          <select
            className="select"
            name="status"
            value={get('status')}
            onChange={(e) => set('status', e.target.value)}
          >
            <option value="">{t('con.all')}</option>
            {STATUSES.map((s) => (
              <option key={s} value={s}>
                {t(`con.message.${s}`)}
              </option>
            ))}
          </select>
        </label>
        <label className="filter-field">
          {t('con.msgs.since')}
          <input
            className="input"
            type="date"
            name="since"
            value={get('since')}
            onChange={(e) => set('since', e.target.value)}
          />
        </label>
        <label className="filter-field">
          {t('con.msgs.until')}
          <input
            className="input"
            type="date"
            name="until"
            value={get('until')}
            onChange={(e) => set('until', e.target.value)}
          />
        </label>
        {filtered && (
          <button
            type="button"
            className="button button-small"
            onClick={() => {
              setText('');
              setParams(new URLSearchParams(), { replace: true });
            }}
          >
            {t('con.clear')}
          </button>
        )}
      </form>

      {list.loading ? (
        <Loading />
      ) : list.error && list.items.length === 0 ? (
        <ErrorState error={list.error} onRetry={list.reload} />
      ) : list.items.length === 0 ? (
        <div className="card">
          {filtered ? (
            <EmptyState icon={<SearchIcon size={40} />} title={t('con.msgs.noMatch.title')}>
              {t('con.msgs.noMatch.body')}
            </EmptyState>
          ) : (
            <EmptyState
              icon={<MessagesIcon size={40} />}
              title={t('con.msgs.empty.title')}
              action={
                <Link to="/admin/compose" className="button button-primary">
                  {t('con.msgs.compose')}
                </Link>
              }
            >
              {t('con.msgs.empty.body')}
            </EmptyState>
          )}
        </div>
      ) : (
        <div className="card card-flush">
          <MessagesTable
            items={list.items}
            categoryOf={(key) => categoryName(i18n, categories, key)}
            sourceOf={(key) => sources?.find((s) => s.key === key)?.name ?? key}
          />
          <LoadMore
            hasMore={list.hasMore}
            loading={list.loadingMore}
            onMore={list.loadMore}
            count={list.items.length}
          />
        </div>
      )}
    </div>
  );
}

function MessagesTable({
  items,
  categoryOf,
  sourceOf,
}: {
  readonly items: readonly Message[];
  readonly categoryOf: (key: string) => string;
  readonly sourceOf: (key: string) => string;
}) {
  const i18n = useI18n();
  const { t, number } = i18n;
  const navigate = useNavigate();
  const now = useNow();
  return (
    <div className="table-wrap">
      <table className="table messages-table" data-testid="messages-table">
        <thead>
          <tr>
            <th scope="col">{t('con.msgs.message')}</th>
            <th scope="col">{t('con.msgs.source')}</th>
            <th scope="col">{t('con.msgs.audience')}</th>
            <th scope="col">{t('con.msgs.status')}</th>
            <th scope="col" className="num">
              {t('con.msgs.delivered')}
            </th>
            <th scope="col">{t('con.msgs.time')}</th>
          </tr>
        </thead>
        <tbody>
          {items.map((m) => {
            const href = `/admin/messages/${m.id}`;
            const delivered = (m.totals.delivered ?? 0) + (m.totals.sent ?? 0);
            const failed = (m.totals.failed ?? 0) + (m.totals.dead ?? 0);
            const total = Object.values(m.totals).reduce((a, b) => a + b, 0);
            return (
              <tr
                key={m.id}
                className="row-link"
                data-testid="message-row"
                onClick={(e) => {
                  if (!(e.target instanceof HTMLAnchorElement)) navigate(href);
                }}
              >
                <th scope="row">
                  <Link to={href} className="cell-link">
                    {categoryOf(m.category)}
                  </Link>
                  <span className="cell-sub">{dataSnippet(m) || m.id}</span>
                </th>
                <td data-label={t('con.msgs.source')}>{sourceOf(m.source)}</td>
                <td data-label={t('con.msgs.audience')}>
                  <span className="clamp">{audienceText(i18n, m.to)}</span>
                  <span className="cell-sub">
                    {t('con.msgs.recipients', { count: m.recipients })}
                  </span>
                </td>
                <td data-label={t('con.msgs.status')}>
                  <MessageStatusTag status={m.status} />
                </td>
                <td className="num" data-label={t('con.msgs.delivered')}>
                  {number(delivered)} / {number(total)}
                  {failed > 0 && (
                    <span className="cell-sub bad">{t('con.msgs.failed', { count: failed })}</span>
                  )}
                </td>
                <td data-label={t('con.msgs.time')}>
                  <time dateTime={m.createdAt} title={i18n.dateTime(m.createdAt, { zone: true })}>
                    {i18n.relative(m.createdAt, now)}
                  </time>
                  {m.status === 'scheduled' && (
                    <span className="cell-sub">
                      {t('con.msgs.sendAt', { time: i18n.dateTime(m.sendAt) })}
                    </span>
                  )}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}
