import { useEffect, useState } from 'react';
import { Link, useLocation, useParams } from 'react-router';
import type { Message } from '../../api/console-types';
import { BackIcon } from '../../components/icons';
import { ErrorState, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useI18n } from '../../i18n/i18n-provider';
import { channelLabel, categoryName, priorityLabel } from '../labels';
import { useConsoleApi } from '../operator-session';
import { useCategories, useSources } from '../reference-data';
import { DataValue, Facts, MessageStatusTag, PageHead } from '../ui';
import { useResource } from '../use-resource';
import { DeliveriesTimeline } from './deliveries-timeline';
import { audienceText } from './message-text';

/** Columns of the counts, in the order a delivery goes through them. */
const STATUS_COLUMNS = ['queued', 'sent', 'delivered', 'failed', 'dead', 'suppressed'] as const;

/** How often a message still on its way is asked again. */
const LIVE_REFRESH_MS = 4_000;

/** One message: what was sent to whom, counts per channel × status, and every delivery. */
export function MessagePage() {
  const { id = '' } = useParams();
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const categories = useCategories().data;
  const sources = useSources().data;
  const location = useLocation();
  const sent = (location.state as { sent?: string } | null)?.sent;
  // Asked again while its deliveries are on their way; a finished one no more.
  const [settled, setSettled] = useState(false);
  const message = useResource(`message:${id}`, () => api.message(id), {
    ...(settled ? {} : { refreshMs: LIVE_REFRESH_MS }),
  });
  const m = message.data;
  const isSettled = m !== undefined && (m.status === 'completed' || m.status === 'scheduled');
  useEffect(() => setSettled(isSettled), [isSettled]);
  const title = m ? categoryName(i18n, categories, m.category) : t('con.msg.title');
  useDocumentTitle(`${title} · ${t('app.console')}`);

  return (
    <div className="cpage">
      <Link to="/admin/messages" className="back-link">
        <BackIcon size={18} />
        {t('con.msg.back')}
      </Link>
      {sent && (
        <p className="ok-note" role="status" data-testid="sent-note">
          {sent === 'scheduled' ? t('con.compose.scheduled') : t('con.compose.sent')}
        </p>
      )}
      {m === undefined && message.error ? (
        <ErrorState error={message.error} onRetry={message.reload} />
      ) : m === undefined ? (
        <Loading />
      ) : (
        <MessageBody
          message={m}
          sourceName={sources?.find((s) => s.key === m.source)?.name ?? m.source}
          title={title}
          settled={isSettled}
        />
      )}
    </div>
  );
}

function MessageBody({
  message: m,
  sourceName,
  title,
  settled,
}: {
  readonly message: Message;
  readonly sourceName: string;
  readonly title: string;
  readonly settled: boolean;
}) {
  const i18n = useI18n();
  const { t, number } = i18n;
  const channels = Object.keys(m.counts).sort();
  const columns = STATUS_COLUMNS.filter((s) => channels.some((c) => m.counts[c]?.[s]));
  const total = (c: string) => Object.values(m.counts[c] ?? {}).reduce((a, b) => a + b, 0);
  const dataEntries = Object.entries(m.data ?? {});
  const sentBy = m.sentBy
    ? m.sentBy.kind === 'operator'
      ? t('con.msg.byOperator', { id: m.sentBy.externalId })
      : t('con.msg.byAdminToken')
    : t('con.msg.bySource', { source: sourceName });

  // Counts change while deliveries go out; the timeline below follows them.
  const statusKey = `${m.status}|${JSON.stringify(m.totals)}`;

  return (
    <>
      <PageHead
        title={title}
        id="message-title"
        sub={
          <span className="head-meta">
            <MessageStatusTag status={m.status} />
            <span>{sourceName}</span>
            <span>{i18n.dateTime(m.createdAt, { zone: true })}</span>
          </span>
        }
      />
      <div className="message-grid">
        <section className="card">
          <h2 className="card-title">{t('con.msg.about')}</h2>
          <Facts
            items={[
              [t('con.msg.audience'), audienceText(i18n, m.to)],
              [t('con.msg.recipients'), number(m.recipients)],
              [t('con.msgs.source'), sourceName],
              [t('con.msg.sentBy'), sentBy],
              [t('con.msg.priority'), priorityLabel(i18n, m.priority)],
              [
                t('con.msg.channels'),
                m.channels
                  ? m.channels.map((c) => channelLabel(i18n, c)).join('、')
                  : t('con.msg.defaultChannels'),
              ],
              [t('con.msg.locale'), m.locale ?? t('con.msg.eachOwn')],
              [
                m.status === 'scheduled' ? t('con.msg.sendAt') : t('con.msg.accepted'),
                i18n.dateTime(m.status === 'scheduled' ? m.sendAt : m.createdAt, { zone: true }),
              ],
              [t('con.msg.id'), <span className="mono">{m.id}</span>],
            ]}
          />
        </section>
        <section className="card">
          <h2 className="card-title">{t('con.msg.data')}</h2>
          {dataEntries.length === 0 ? (
            <p className="muted">{t('con.msg.noData')}</p>
          ) : (
            <Facts items={dataEntries.map(([k, v]) => [k, <DataValue value={v} />] as const)} />
          )}
        </section>
      </div>

      <section className="card">
        <h2 className="card-title">{t('con.msg.counts')}</h2>
        <p className="card-hint">{settled ? t('con.msg.countsFinal') : t('con.msg.countsLive')}</p>
        {channels.length === 0 ? (
          <p className="muted" data-testid="no-deliveries">
            {m.status === 'scheduled'
              ? t('con.msg.notYet', { time: i18n.dateTime(m.sendAt, { zone: true }) })
              : t('con.msg.planning')}
          </p>
        ) : (
          <div className="table-wrap">
            <table className="table table-compact counts-table" data-testid="counts-table">
              <thead>
                <tr>
                  <th scope="col">{t('con.dash.channel')}</th>
                  {columns.map((s) => (
                    <th key={s} scope="col" className="num">
                      {t(`con.delivery.${s}`)}
                    </th>
                  ))}
                  <th scope="col" className="num">
                    {t('con.msg.total')}
                  </th>
                </tr>
              </thead>
              <tbody>
                {channels.map((c) => (
                  <tr key={c} data-channel={c}>
                    <th scope="row">{channelLabel(i18n, c)}</th>
                    {columns.map((s) => {
                      const n = m.counts[c]?.[s] ?? 0;
                      const tone =
                        n > 0 && (s === 'failed' || s === 'dead')
                          ? ' bad'
                          : n > 0 && (s === 'sent' || s === 'delivered')
                            ? ' ok'
                            : '';
                      return (
                        <td
                          key={s}
                          className={`num${tone}`}
                          data-label={t(`con.delivery.${s}`)}
                          data-status={s}
                        >
                          {n ? number(n) : '—'}
                        </td>
                      );
                    })}
                    <td className="num" data-label={t('con.msg.total')}>
                      {number(total(c))}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      <DeliveriesTimeline messageId={m.id} channels={channels} refreshKey={statusKey} />
    </>
  );
}
