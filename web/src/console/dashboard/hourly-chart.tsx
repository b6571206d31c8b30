import type { Overview } from '../../api/console-types';
import { useI18n } from '../../i18n/i18n-provider';

const PARTS = ['delivered', 'failed', 'suppressed', 'pending'] as const;

/**
 * Deliveries per clock hour as stacked bars (delivered, failed, suppressed, pending), hours in
 * the operator's time zone. Plain boxes, no chart library: it has to fit a phone and a desktop.
 */
export function HourlyChart({ series }: { readonly series: Overview['series'] }) {
  const i18n = useI18n();
  const { t, number } = i18n;
  const max = Math.max(1, ...series.map((h) => h.accepted));
  const labels: Record<(typeof PARTS)[number], string> = {
    delivered: t('con.dash.col.delivered'),
    failed: t('con.dash.col.failed'),
    suppressed: t('con.dash.col.suppressed'),
    pending: t('con.dash.col.pending'),
  };
  return (
    <figure className="chart" data-testid="hourly-chart">
      <div className="chart-scale" aria-hidden="true">
        <span>{number(max)}</span>
        <span>0</span>
      </div>
      <div className="chart-bars">
        {series.map((h, i) => {
          const when = i18n.clock(h.from);
          const summary = `${when}: ${PARTS.map((p) => `${labels[p]} ${number(h[p])}`).join(', ')}`;
          return (
            <div key={h.from} className="chart-col" title={summary} aria-label={summary} role="img">
              <div className="chart-stack" style={{ height: `${(h.accepted / max) * 100}%` }}>
                {PARTS.map(
                  (p) =>
                    h[p] > 0 && (
                      <span key={p} className={`chart-seg seg-${p}`} style={{ flexGrow: h[p] }} />
                    ),
                )}
              </div>
              {/* Every sixth hour, each label starting at its bar: they never crowd each other. */}
              <span className="chart-x" aria-hidden="true">
                {i % 6 === 0 ? when : ''}
              </span>
            </div>
          );
        })}
      </div>
      <figcaption className="chart-legend">
        {PARTS.map((p) => (
          <span key={p}>
            <span className={`legend-swatch seg-${p}`} aria-hidden="true" />
            {labels[p]}
          </span>
        ))}
      </figcaption>
    </figure>
  );
}
