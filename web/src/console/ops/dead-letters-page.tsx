import { useState } from 'react';
import { Link } from 'react-router';
import type { DeadLetter } from '../../api/console-types';
import { DoneIcon } from '../../components/icons';
import { EmptyState, ErrorState, InlineError, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useI18n } from '../../i18n/i18n-provider';
import { channelLabel } from '../labels';
import { useConsoleApi } from '../operator-session';
import { LoadMore, PageHead, SubTabs } from '../ui';
import { usePagedList } from '../use-resource';

export function OpsTabs() {
  const { t } = useI18n();
  return (
    <SubTabs
      tabs={[
        { to: '/admin/ops/dead-letters', label: t('con.ops.dead') },
        { to: '/admin/ops/outbox', label: t('con.ops.outbox') },
      ]}
    />
  );
}

/** Deliveries that used up their attempts; after fixing the cause, each can be sent again. */
export function DeadLettersPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const [all, setAll] = useState(false);
  const list = usePagedList(`dead:${all}`, (cursor) => api.deadLetters(all, cursor));
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<unknown>(null);
  useDocumentTitle(`${t('con.ops.dead')} · ${t('app.console')}`);

  async function redrive(d: DeadLetter) {
    setBusy(d.id);
    setError(null);
    try {
      const next = await api.redrive(d.id);
      list.replace((x) => x.id === d.id, next);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  }

  return (
    <div className="cpage">
      <PageHead title={t('con.nav.ops')} id="ops-title" sub={t('con.dead.sub')} />
      <OpsTabs />
      <label className="check-line filter-check">
        <input type="checkbox" checked={all} onChange={(e) => setAll(e.target.checked)} />
        <span>{t('con.dead.showRedriven')}</span>
      </label>
      {error ? <InlineError error={error} /> : null}
      {list.loading ? (
        <Loading />
      ) : list.error && list.items.length === 0 ? (
        <ErrorState error={list.error} onRetry={list.reload} />
      ) : list.items.length === 0 ? (
        <div className="card">
          <EmptyState icon={<DoneIcon size={40} />} title={t('con.dead.empty')}>
            {t('con.dead.emptyBody')}
          </EmptyState>
        </div>
      ) : (
        <div className="card card-flush">
          <div className="table-wrap">
            <table className="table" data-testid="dead-letters">
              <thead>
                <tr>
                  <th scope="col">{t('con.dead.when')}</th>
                  <th scope="col">{t('con.dash.channel')}</th>
                  <th scope="col">{t('con.dead.reason')}</th>
                  <th scope="col">{t('con.msgs.message')}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t('con.dead.redrive')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((d) => (
                  <tr key={d.id}>
                    <th scope="row">{i18n.dateTime(d.createdAt)}</th>
                    <td data-label={t('con.dash.channel')}>{channelLabel(i18n, d.channel)}</td>
                    <td data-label={t('con.dead.reason')} className="cell-wide">
                      {d.reason}
                    </td>
                    <td data-label={t('con.msgs.message')}>
                      <Link to={`/admin/messages/${d.messageId}`}>{t('con.dead.open')}</Link>
                    </td>
                    <td className="cell-actions">
                      {d.redrivenAt ? (
                        <span className="status status-ok">
                          {t('con.dead.redriven', { time: i18n.dateTime(d.redrivenAt) })}
                        </span>
                      ) : (
                        <button
                          type="button"
                          className="button button-small"
                          disabled={busy === d.id}
                          onClick={() => void redrive(d)}
                        >
                          {t('con.dead.redrive')}
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
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
