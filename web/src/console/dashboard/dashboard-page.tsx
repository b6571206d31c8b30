import type { ReactNode } from 'react';
import { Link } from 'react-router';
import type { Overview } from '../../api/console-types';
import { EmptyState, ErrorState, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useNow } from '../../components/use-now';
import { useI18n } from '../../i18n/i18n-provider';
import { RefreshIcon, SendIcon } from '../console-icons';
import { channelLabel, formatDuration } from '../labels';
import { useConsoleApi } from '../operator-session';
import { PageHead } from '../ui';
import { useResource } from '../use-resource';
import { HourlyChart } from './hourly-chart';

/** How often the dashboard asks again. */
export const DASHBOARD_REFRESH_MS = 10_000;

/** The last 24 hours at a glance: what was sent, what arrived, what failed, what waits. */
export function DashboardPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const overview = useResource('overview', () => api.overview(24), {
    refreshMs: DASHBOARD_REFRESH_MS,
  });
  const now = useNow(5_000);
  useDocumentTitle(`${t('app.console')} · ${t('app.name')}`);
  const { data, error, updatedAt } = overview;

  const refreshLine = updatedAt && (
    <span className="refresh-line" data-testid="refreshed">
      <span className={overview.loading ? 'pulse pulse-on' : 'pulse'} aria-hidden="true" />
      {t('con.dash.updated', { time: i18n.relative(updatedAt, now) })} ·{' '}
      {t('con.dash.auto', { count: DASHBOARD_REFRESH_MS / 1000 })}
    </span>
  );

  return (
    <div className="cpage">
      <PageHead
        title={t('con.dash.title')}
        id="dashboard-title"
        sub={refreshLine || t('con.dash.window')}
        actions={
          <button
            type="button"
            className="button button-small"
            onClick={overview.reload}
            disabled={overview.loading}
          >
            <RefreshIcon size={16} />
            {t('con.refresh')}
          </button>
        }
      />
      {data === undefined && error ? (
        <ErrorState error={error} onRetry={overview.reload} />
      ) : data === undefined ? (
        <Loading />
      ) : (
        <>
          {error ? (
            <p className="form-note" role="status">
              {t('con.dash.stale', { time: updatedAt ? i18n.dateTime(updatedAt) : '' })}
            </p>
          ) : null}
          <DashboardBody data={data} />
        </>
      )}
    </div>
  );
}

function DashboardBody({ data }: { readonly data: Overview }) {
  const i18n = useI18n();
  const { t, number } = i18n;
  const { totals, queue } = data;
  const rate = totals.accepted > 0 ? totals.delivered / totals.accepted : null;
  const percent = (x: number) =>
    new Intl.NumberFormat(i18n.locale, { style: 'percent', maximumFractionDigits: 1 }).format(x);

  return (
    <div className="dash" data-testid="dashboard">
      <section className="kpis" aria-label={t('con.dash.window')}>
        <Kpi
          label={t('con.dash.messages')}
          value={number(data.messages.accepted)}
          hint={t('con.dash.messagesHint')}
          testId="kpi-messages"
        />
        <Kpi
          label={t('con.dash.deliveries')}
          value={number(totals.accepted)}
          hint={t('con.dash.deliveriesHint')}
          testId="kpi-deliveries"
        />
        <Kpi
          label={t('con.dash.delivered')}
          value={number(totals.delivered)}
          hint={rate === null ? t('con.dash.noneYet') : t('con.dash.rate', { rate: percent(rate) })}
          tone="ok"
          testId="kpi-delivered"
        />
        <Kpi
          label={t('con.dash.failed')}
          value={number(totals.failed)}
          hint={t('con.dash.suppressedPending', {
            suppressed: number(totals.suppressed),
            pending: number(totals.pending),
          })}
          tone={totals.failed > 0 ? 'bad' : undefined}
          testId="kpi-failed"
        />
        <Kpi
          label={t('con.dash.queue')}
          value={queue ? number(queue.total) : '—'}
          hint={
            queue
              ? t('con.dash.lanes', {
                  urgent: number(queue.urgent),
                  normal: number(queue.normal),
                  bulk: number(queue.bulk),
                })
              : t('con.dash.queueUnknown')
          }
          tone={queue === null ? 'warn' : undefined}
          testId="kpi-queue"
        />
        <Kpi
          label={t('con.dash.latency')}
          value={totals.latency ? formatDuration(totals.latency.p50Ms, i18n) : '—'}
          hint={
            totals.latency
              ? t('con.dash.latencyHint', { p95: formatDuration(totals.latency.p95Ms, i18n) })
              : t('con.dash.noneYet')
          }
          testId="kpi-latency"
        />
        <Kpi
          label={t('con.dash.deadLetters')}
          value={number(data.deadLetters.open)}
          hint={
            data.deadLetters.open > 0 ? (
              <Link to="/admin/ops/dead-letters">{t('con.dash.deadLettersLink')}</Link>
            ) : (
              t('con.dash.deadLettersNone')
            )
          }
          tone={data.deadLetters.open > 0 ? 'bad' : undefined}
          testId="kpi-dead"
        />
      </section>

      {totals.accepted === 0 ? (
        <div className="card">
          <EmptyState
            icon={<SendIcon size={40} />}
            title={t('con.dash.empty.title')}
            action={
              <Link to="/admin/compose" className="button button-primary">
                {t('con.nav.compose')}
              </Link>
            }
          >
            {t('con.dash.empty.body')}
          </EmptyState>
        </div>
      ) : (
        <>
          <section className="card">
            <h2 className="card-title">{t('con.dash.hourly')}</h2>
            <p className="card-hint">{t('con.dash.hourlyHint')}</p>
            <HourlyChart series={data.series} />
          </section>
          <section className="card">
            <h2 className="card-title">{t('con.dash.perChannel')}</h2>
            <p className="card-hint">{t('con.dash.perChannelHint')}</p>
            <div className="table-wrap">
              <table className="table table-compact channel-table" data-testid="channel-table">
                <thead>
                  <tr>
                    <th scope="col">{t('con.dash.channel')}</th>
                    <th scope="col" className="num">
                      {t('con.dash.col.accepted')}
                    </th>
                    <th scope="col" className="num">
                      {t('con.dash.col.delivered')}
                    </th>
                    <th scope="col" className="num">
                      {t('con.dash.col.failed')}
                    </th>
                    <th scope="col" className="num">
                      {t('con.dash.col.suppressed')}
                    </th>
                    <th scope="col" className="num">
                      {t('con.dash.col.pending')}
                    </th>
                    <th scope="col" className="num">
                      {t('con.dash.col.p50')}
                    </th>
                    <th scope="col" className="num">
                      {t('con.dash.col.p95')}
                    </th>
                  </tr>
                </thead>
                <tbody>
                  {data.channels.map((c) => (
                    <tr key={c.channel} data-channel={c.channel}>
                      <th scope="row" data-label={t('con.dash.channel')}>
                        {channelLabel(i18n, c.channel)}
                      </th>
                      <td className="num" data-label={t('con.dash.col.accepted')}>
                        {number(c.accepted)}
                      </td>
                      <td className="num ok" data-label={t('con.dash.col.delivered')}>
                        {number(c.delivered)}
                      </td>
                      <td
                        className={c.failed > 0 ? 'num bad' : 'num'}
                        data-label={t('con.dash.col.failed')}
                      >
                        {number(c.failed)}
                      </td>
                      <td className="num" data-label={t('con.dash.col.suppressed')}>
                        {number(c.suppressed)}
                      </td>
                      <td className="num" data-label={t('con.dash.col.pending')}>
                        {number(c.pending)}
                      </td>
                      <td className="num" data-label={t('con.dash.col.p50')}>
                        {c.latency ? formatDuration(c.latency.p50Ms, i18n) : '—'}
                      </td>
                      <td className="num" data-label={t('con.dash.col.p95')}>
                        {c.latency ? formatDuration(c.latency.p95Ms, i18n) : '—'}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          </section>
        </>
      )}
    </div>
  );
}

function Kpi({
  label,
  value,
  hint,
  tone,
  testId,
}: {
  readonly label: string;
  readonly value: string;
  readonly hint: ReactNode;
  readonly tone?: 'ok' | 'bad' | 'warn' | undefined;
  readonly testId: string;
}) {
  return (
    <div className={`kpi${tone ? ` kpi-${tone}` : ''}`} data-testid={testId}>
      <div className="kpi-label">{label}</div>
      <div className="kpi-value">{value}</div>
      <div className="kpi-hint">{hint}</div>
    </div>
  );
}
