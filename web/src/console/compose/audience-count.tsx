import type { AudiencePreview } from '../../api/console-types';
import { InlineError } from '../../components/states';
import { useI18n } from '../../i18n/i18n-provider';
import { channelLabel } from '../labels';
import type { Resource } from '../use-resource';

/**
 * How many people the audience reaches now, before anything is sent: the number, how many of
 * them each channel can reach, and the first few names.
 */
export function AudienceCount({
  preview,
  empty,
  channels,
}: {
  readonly preview: Resource<AudiencePreview>;
  /** Nothing chosen yet. */
  readonly empty: boolean;
  /** The channels the message will use, for "reachable on". */
  readonly channels: readonly string[];
}) {
  const i18n = useI18n();
  const { t, number } = i18n;
  const p = preview.data;
  if (empty)
    return (
      <div className="aud-count aud-count-empty" data-testid="audience-count">
        <span className="aud-number">—</span>
        <span className="muted small">{t('con.aud.countEmpty')}</span>
      </div>
    );
  if (p === undefined)
    return preview.error ? (
      <InlineError error={preview.error} />
    ) : (
      <div className="aud-count" data-testid="audience-count" aria-busy="true">
        <span className="aud-number">…</span>
        <span className="muted small">{t('con.aud.counting')}</span>
      </div>
    );
  const unknown = [...p.unknownUsers, ...p.unknownGroups];
  return (
    <div
      className={`aud-count${preview.loading ? ' aud-count-busy' : ''}`}
      data-testid="audience-count"
      data-count={p.count}
      aria-live="polite"
    >
      <span className="aud-number">{number(p.count)}</span>
      <span className="aud-unit">{t('con.aud.people', { count: p.count })}</span>
      {unknown.length > 0 && (
        <p className="form-error" role="alert">
          {t('con.aud.unknown', { list: unknown.join('、') })}
        </p>
      )}
      {p.count > 0 && (
        <>
          <ul className="reach">
            {channels.map((c) => {
              const n = p.reach[c];
              if (n === undefined) return null;
              return (
                <li key={c}>
                  <span>{channelLabel(i18n, c)}</span>
                  <span className={n < p.count ? 'reach-part' : undefined}>
                    {number(n)} / {number(p.count)}
                  </span>
                </li>
              );
            })}
          </ul>
          <p className="sample small">
            {t('con.aud.sample', {
              names: p.sample
                .map((u) => t('con.aud.sampleName', { name: u.name, id: u.externalId }))
                .join(t('con.listSep')),
            })}
            {p.count > p.sample.length && ' …'}
          </p>
        </>
      )}
    </div>
  );
}
