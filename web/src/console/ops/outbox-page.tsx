import { Link, useSearchParams } from 'react-router';
import { CHANNELS, type OutboxEntry } from '../../api/console-types';
import { EmptyInboxIcon } from '../../components/icons';
import { EmptyState, ErrorState, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useI18n } from '../../i18n/i18n-provider';
import { channelLabel } from '../labels';
import { useConsoleApi } from '../operator-session';
import { DataValue, LoadMore, PageHead } from '../ui';
import { usePagedList } from '../use-resource';
import { OpsTabs } from './dead-letters-page';

/** The parts of a payload a person reads first; the rest follow as small print. */
const MAIN_FIELDS = ['subject', 'title', 'text', 'body'] as const;
const HIDDEN_FIELDS = new Set(['outId', 'id', 'client_msg_id', 'messageId']);

/**
 * What the sandbox provider recorded instead of sending (channels without a real provider):
 * the exact payload each would have received, as text.
 */
export function OutboxPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const [params, setParams] = useSearchParams();
  const channel = params.get('channel') ?? '';
  const messageId = params.get('messageId') ?? '';
  const list = usePagedList(`outbox:${channel}:${messageId}`, (cursor) =>
    api.outbox({ channel: channel || undefined, messageId: messageId || undefined, cursor }),
  );
  useDocumentTitle(`${t('con.ops.outbox')} · ${t('app.console')}`);

  const set = (name: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(name, value);
    else next.delete(name);
    setParams(next, { replace: true });
  };

  return (
    <div className="cpage">
      <PageHead title={t('con.nav.ops')} id="ops-title" sub={t('con.outbox.sub')} />
      <OpsTabs />
      <div className="filter-bar">
        <label className="filter-field">
          {t('con.dash.channel')}
          <select
            className="select"
            value={channel}
            onChange={(e) => set('channel', e.target.value)}
          >
            <option value="">{t('con.all')}</option>
            {CHANNELS.filter((c) => c !== 'in_app').map((c) => (
              <option key={c} value={c}>
                {channelLabel(i18n, c)}
              </option>
            ))}
          </select>
        </label>
        {messageId && (
          <span className="chip">
            <span>{t('con.outbox.ofMessage', { id: messageId.slice(0, 8) })}</span>
            <button type="button" aria-label={t('con.clear')} onClick={() => set('messageId', '')}>
              ×
            </button>
          </span>
        )}
      </div>
      {list.loading ? (
        <Loading />
      ) : list.error && list.items.length === 0 ? (
        <ErrorState error={list.error} onRetry={list.reload} />
      ) : list.items.length === 0 ? (
        <div className="card">
          <EmptyState icon={<EmptyInboxIcon size={40} />} title={t('con.outbox.empty')}>
            {t('con.outbox.emptyBody')}
          </EmptyState>
        </div>
      ) : (
        <>
          <ol className="outbox" data-testid="outbox">
            {list.items.map((e) => (
              <OutboxItem key={e.id} entry={e} />
            ))}
          </ol>
          <LoadMore
            hasMore={list.hasMore}
            loading={list.loadingMore}
            onMore={list.loadMore}
            count={list.items.length}
          />
        </>
      )}
    </div>
  );
}

function OutboxItem({ entry: e }: { readonly entry: OutboxEntry }) {
  const i18n = useI18n();
  const { t } = i18n;
  const payload = e.payload;
  const rest = Object.entries(payload).filter(
    ([k]) => !(MAIN_FIELDS as readonly string[]).includes(k) && !HIDDEN_FIELDS.has(k),
  );
  return (
    <li className="card outbox-item">
      <div className="outbox-head">
        <span className="tag tag-quiet">{channelLabel(i18n, e.channel)}</span>
        <span className="outbox-to">
          {t('con.outbox.to')} <span className="mono">{e.recipient}</span>
        </span>
        <time className="muted small" dateTime={e.createdAt}>
          {i18n.dateTime(e.createdAt)}
        </time>
      </div>
      {MAIN_FIELDS.map((k) =>
        typeof payload[k] === 'string' ? (
          <div
            key={k}
            className={k === 'subject' || k === 'title' ? 'outbox-title' : 'outbox-text'}
          >
            {payload[k] as string}
          </div>
        ) : null,
      )}
      {rest.length > 0 && (
        <dl className="outbox-rest small">
          {rest.map(([k, v]) => (
            <div key={k}>
              <dt>{k}</dt>
              <dd>
                <DataValue value={v} />
              </dd>
            </div>
          ))}
        </dl>
      )}
      <Link className="small" to={`/admin/messages/${e.messageId}`}>
        {t('con.dead.open')}
      </Link>
    </li>
  );
}
