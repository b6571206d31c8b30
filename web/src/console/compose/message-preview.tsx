import { useState } from 'react';
import type { PreviewItem } from '../../api/console-types';
import { InlineError, Loading } from '../../components/states';
import { useI18n } from '../../i18n/i18n-provider';
import { LOCALE_NAMES, isLocale } from '../../i18n/locale';
import { channelLabel } from '../labels';
import type { Resource } from '../use-resource';
import { RenderError, RenderedView } from './rendered-view';

/** A language tag in words where the UI knows it ("中文", "English"), else the tag. */
export function localeName(tag: string): string {
  return isLocale(tag) ? LOCALE_NAMES[tag] : tag;
}

/**
 * The message as each channel would carry it, in each language the category has templates
 * in: tabs per channel, a switch per language, template problems shown where they are.
 */
export function MessagePreview({
  preview,
}: {
  readonly preview: Resource<{ readonly ok: boolean; readonly items: readonly PreviewItem[] }>;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const [channel, setChannel] = useState<string | null>(null);
  const [locale, setLocale] = useState<string | null>(null);
  const items = preview.data?.items;
  if (items === undefined)
    return preview.error ? <InlineError error={preview.error} /> : <Loading />;
  if (items.length === 0) return <p className="muted">{t('con.preview.nothing')}</p>;

  const channels = [...new Set(items.map((i) => i.channel))];
  const locales = [...new Set(items.map((i) => i.locale))];
  const shownChannel = channel && channels.includes(channel) ? channel : channels[0]!;
  const preferred = locales.includes(i18n.locale) ? i18n.locale : locales[0]!;
  const shownLocale = locale && locales.includes(locale) ? locale : preferred;
  const item =
    items.find((i) => i.channel === shownChannel && i.locale === shownLocale) ??
    items.find((i) => i.channel === shownChannel)!;
  const problems = items.filter((i) => i.error !== null);

  return (
    <div className={`preview${preview.loading ? ' preview-busy' : ''}`} data-testid="preview">
      <div className="preview-bar">
        <div
          className="seg-tabs seg-tabs-small"
          role="tablist"
          aria-label={t('con.preview.channel')}
        >
          {channels.map((c) => {
            const broken = items.some((i) => i.channel === c && i.error);
            return (
              <button
                key={c}
                type="button"
                role="tab"
                aria-selected={c === shownChannel}
                className={`seg-tab${broken ? ' seg-tab-bad' : ''}`}
                onClick={() => setChannel(c)}
              >
                {channelLabel(i18n, c)}
              </button>
            );
          })}
        </div>
        {locales.length > 1 && (
          <div
            className="seg-tabs seg-tabs-small"
            role="group"
            aria-label={t('con.preview.language')}
          >
            {locales.map((l) => (
              <button
                key={l}
                type="button"
                aria-pressed={l === shownLocale}
                className="seg-tab"
                onClick={() => setLocale(l)}
              >
                {localeName(l)}
              </button>
            ))}
          </div>
        )}
      </div>
      {item.rendered ? (
        <RenderedView channel={item.channel} rendered={item.rendered} />
      ) : (
        item.error && <RenderError error={item.error} />
      )}
      {item.templateLocale && item.templateLocale !== item.locale && (
        <p className="muted small">
          {t('con.preview.fallback', {
            wanted: localeName(item.locale),
            used: localeName(item.templateLocale),
          })}
        </p>
      )}
      {problems.length > 0 && (
        <p className="form-error" data-testid="preview-problems">
          {t('con.preview.problems', {
            count: problems.length,
            list: problems
              .map((p) => `${channelLabel(i18n, p.channel)} · ${localeName(p.locale)}`)
              .join(t('con.listSep')),
          })}
        </p>
      )}
    </div>
  );
}
