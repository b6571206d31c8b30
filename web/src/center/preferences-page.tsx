import { useEffect, useMemo, useState } from 'react';
import { useLocation } from 'react-router';
import type { CategoryPreference, Contacts, Preferences } from '../api/center-types';
import { AlertIcon, LockIcon } from '../components/icons';
import { ErrorState, InlineError, Loading } from '../components/states';
import { useNow } from '../components/use-now';
import { useI18n } from '../i18n/i18n-provider';
import type { MessageKey } from '../i18n/dictionary';
import { LOCALE_NAMES, LOCALES, closestLocale, type Locale } from '../i18n/locale';
import { knownTimeZone, timeZoneChoices } from '../i18n/time-zones';
import { useSession } from '../session/session-provider';
import { useLiveInbox } from './live-inbox';

/** Columns of the grid, in this order, for the channels that some category uses. */
const CHANNEL_ORDER = [
  'in_app',
  'sms',
  'wechat',
  'email',
  'wecom',
  'dingtalk',
  'feishu',
  'web_push',
  'webhook',
] as const;

/** Whether Herald has somewhere to send this user's messages on a channel. */
function reachable(channel: string, contacts: Contacts): boolean {
  switch (channel) {
    case 'sms':
      return contacts.phone !== null;
    case 'email':
      return contacts.email !== null;
    case 'wechat':
    case 'wecom':
    case 'dingtalk':
    case 'feishu':
      return contacts[channel];
    default:
      return true;
  }
}

type SaveState =
  { readonly kind: 'idle' | 'saving' | 'saved' } | { kind: 'failed'; error: unknown };

export function PreferencesPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const { api } = useSession();
  const live = useLiveInbox();
  const [prefs, setPrefs] = useState<Preferences | null>(null);
  const [loadError, setLoadError] = useState<unknown>(null);
  const [attempt, setAttempt] = useState(0);
  const [save, setSave] = useState<SaveState>({ kind: 'idle' });
  const location = useLocation();
  const loaded = prefs !== null;

  // The header's zone hint links to #timezone: show that card once it is there.
  useEffect(() => {
    if (loaded && location.hash === '#timezone')
      document.getElementById('timezone')?.scrollIntoView({ block: 'start' });
  }, [loaded, location.hash]);

  useEffect(() => {
    let cancelled = false;
    setLoadError(null);
    api.preferences().then(
      (p) => !cancelled && setPrefs(p),
      (err: unknown) => !cancelled && setLoadError(err),
    );
    return () => {
      cancelled = true;
    };
  }, [api, attempt]);

  useEffect(() => {
    if (save.kind !== 'saved') return;
    const timer = setTimeout(() => setSave({ kind: 'idle' }), 2500);
    return () => clearTimeout(timer);
  }, [save]);

  if (loadError !== null)
    return (
      <div className="page">
        <ErrorState error={loadError} onRetry={() => setAttempt((a) => a + 1)} />
      </div>
    );
  if (!prefs)
    return (
      <div className="page">
        <Loading />
      </div>
    );

  /** Saves a change shown at once; answers what Herald stored, or null when it refused. */
  async function change(
    body: Parameters<typeof api.changePreferences>[0],
    optimistic: Preferences,
  ): Promise<Preferences | null> {
    const before = prefs;
    setPrefs(optimistic);
    setSave({ kind: 'saving' });
    try {
      const saved = await api.changePreferences(body);
      setPrefs(saved);
      live.setCategories(saved.categories);
      setSave({ kind: 'saved' });
      return saved;
    } catch (error) {
      setPrefs(before);
      setSave({ kind: 'failed', error });
      return null;
    }
  }

  const withCategory = (key: string, update: Partial<CategoryPreference>): Preferences => ({
    ...prefs,
    categories: prefs.categories.map((c) => (c.key === key ? { ...c, ...update } : c)),
  });

  const toggleCategory = (c: CategoryPreference, enabled: boolean) =>
    void change({ categories: [{ key: c.key, enabled }] }, withCategory(c.key, { enabled }));

  const toggleChannel = (c: CategoryPreference, channel: string, on: boolean) => {
    const next = c.defaultChannels.filter((x) => (x === channel ? on : c.channels.includes(x)));
    const isDefault = next.length === c.defaultChannels.length;
    void change(
      { categories: [{ key: c.key, channels: isDefault ? null : next }] },
      withCategory(c.key, { channels: next, customized: !isDefault }),
    );
  };

  const resetCategory = (c: CategoryPreference) =>
    void change(
      { categories: [{ key: c.key, channels: null }] },
      withCategory(c.key, { channels: c.defaultChannels, customized: false }),
    );

  const chooseLocale = (locale: Locale) => {
    i18n.setLocale(locale);
    void change({ locale }, { ...prefs, locale });
  };

  // Every time on screen moves to the new zone at once, and back if Herald refuses it.
  const chooseTimeZone = (timezone: string) => {
    const before = prefs.timezone;
    i18n.setTimeZone(timezone);
    void change({ timezone }, { ...prefs, timezone }).then((saved) =>
      i18n.setTimeZone(saved ? saved.timezone : before),
    );
  };

  const columns = CHANNEL_ORDER.filter((ch) =>
    prefs.categories.some((c) => c.defaultChannels.includes(ch)),
  );
  const channelName = (ch: string) => t(`channel.${ch}` as MessageKey);
  const accountLocale = closestLocale(prefs.locale);

  return (
    <div className="page preferences">
      <div className="page-head">
        <h1 className="page-title">{t('prefs.title')}</h1>
        <span className="save-state" role="status" aria-live="polite">
          {save.kind === 'saving' && t('state.saving')}
          {save.kind === 'saved' && t('state.saved')}
        </span>
      </div>
      {save.kind === 'failed' && <InlineError error={save.error} />}

      <section className="card" aria-labelledby="prefs-channels">
        <h2 id="prefs-channels" className="card-title">
          {t('prefs.channels.title')}
        </h2>
        <p className="card-hint">{t('prefs.channels.hint')}</p>
        <table className="pref-grid" data-testid="preferences-grid">
          <thead>
            <tr>
              <th scope="col">{t('prefs.category')}</th>
              <th scope="col">{t('prefs.enabled')}</th>
              {columns.map((ch) => (
                <th scope="col" key={ch}>
                  {channelName(ch)}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {prefs.categories.map((c) => {
              const name = i18n.pick(c.name, c.key);
              return (
                <tr
                  key={c.key}
                  data-category={c.key}
                  className={`${c.mandatory ? 'mandatory' : ''}${c.enabled ? '' : ' off'}`}
                >
                  <th scope="row" className="pref-name">
                    <span className="pref-name-line">
                      {c.mandatory && <LockIcon size={16} />}
                      <span>{name}</span>
                      {c.mandatory && <span className="tag tag-warn">{t('prefs.mandatory')}</span>}
                      {c.customized && <span className="tag">{t('prefs.customized')}</span>}
                    </span>
                    {c.mandatory && <span className="pref-why">{t('prefs.mandatoryWhy')}</span>}
                    {!c.enabled && <span className="pref-why">{t('prefs.categoryOff')}</span>}
                    {c.customized && (
                      <button
                        type="button"
                        className="link-button"
                        onClick={() => resetCategory(c)}
                      >
                        {t('prefs.reset')}
                      </button>
                    )}
                  </th>
                  <td data-label={t('prefs.enabled')} className="pref-enabled">
                    <label className="switch">
                      <input
                        type="checkbox"
                        role="switch"
                        checked={c.enabled}
                        disabled={c.mandatory}
                        aria-label={t('prefs.toggleCategory', { category: name })}
                        onChange={(e) => toggleCategory(c, e.target.checked)}
                      />
                      <span className="switch-track" aria-hidden="true" />
                    </label>
                  </td>
                  {columns.map((ch) => {
                    if (!c.defaultChannels.includes(ch))
                      return (
                        <td key={ch} className="pref-cell na" data-label={channelName(ch)}>
                          <span title={t('prefs.notOffered')} aria-label={t('prefs.notOffered')}>
                            —
                          </span>
                        </td>
                      );
                    const noAddress = !reachable(ch, prefs.contacts);
                    return (
                      <td key={ch} className="pref-cell" data-label={channelName(ch)}>
                        <label className="check">
                          <input
                            type="checkbox"
                            data-channel={ch}
                            checked={c.channels.includes(ch)}
                            disabled={c.mandatory || !c.enabled}
                            aria-label={t('prefs.toggleChannel', {
                              category: name,
                              channel: channelName(ch),
                            })}
                            onChange={(e) => toggleChannel(c, ch, e.target.checked)}
                          />
                          <span className="check-label">{channelName(ch)}</span>
                        </label>
                        {noAddress && (
                          <span className="no-address" title={t('prefs.noAddress')}>
                            <AlertIcon size={14} />
                            <span className="visually-hidden">{t('prefs.noAddress')}</span>
                          </span>
                        )}
                      </td>
                    );
                  })}
                </tr>
              );
            })}
          </tbody>
        </table>
        {columns.some((ch) => !reachable(ch, prefs.contacts)) && (
          <p className="card-hint legend">
            <AlertIcon size={14} /> {t('prefs.noAddress')}
          </p>
        )}
      </section>

      <section className="card" aria-labelledby="prefs-language">
        <h2 id="prefs-language" className="card-title">
          {t('prefs.language.title')}
        </h2>
        <p className="card-hint">{t('prefs.language.hint')}</p>
        <div className="radio-row" role="radiogroup" aria-labelledby="prefs-language">
          {LOCALES.map((l) => (
            <label key={l} className="radio-card" lang={l}>
              <input
                type="radio"
                name="locale"
                value={l}
                checked={accountLocale === l}
                onChange={() => chooseLocale(l)}
              />
              <span>{LOCALE_NAMES[l]}</span>
            </label>
          ))}
        </div>
      </section>

      <TimeZoneCard timezone={prefs.timezone} onChoose={chooseTimeZone} />

      <section className="card" aria-labelledby="prefs-contacts">
        <h2 id="prefs-contacts" className="card-title">
          {t('prefs.contacts.title')}
        </h2>
        <p className="card-hint">{t('prefs.contacts.hint')}</p>
        <dl className="contacts" data-testid="contacts">
          <ContactRow label={t('contact.phone')} value={prefs.contacts.phone} />
          <ContactRow label={t('contact.email')} value={prefs.contacts.email} />
          {(['wechat', 'wecom', 'dingtalk', 'feishu'] as const).map((k) => (
            <ContactRow
              key={k}
              label={t(`contact.${k}`)}
              value={prefs.contacts[k] ? t('contact.linked') : null}
            />
          ))}
        </dl>
      </section>
    </div>
  );
}

/** The account's time zone: a select of common zones (the device's among them) and all others. */
function TimeZoneCard(props: { readonly timezone: string; onChoose(zone: string): void }) {
  const i18n = useI18n();
  const { t, locale, deviceTimeZone } = i18n;
  const now = useNow();
  const current = knownTimeZone(props.timezone) ?? props.timezone;
  const device = knownTimeZone(deviceTimeZone) ?? deviceTimeZone;
  const choices = useMemo(
    () => timeZoneChoices(locale, [current, device]),
    [locale, current, device],
  );
  return (
    <section className="card" id="timezone" aria-labelledby="prefs-timezone">
      <h2 id="prefs-timezone" className="card-title">
        {t('prefs.timezone.title')}
      </h2>
      <p className="card-hint">{t('prefs.timezone.hint')}</p>
      <select
        className="select zone-select"
        name="timezone"
        aria-labelledby="prefs-timezone"
        value={current}
        onChange={(e) => props.onChoose(e.target.value)}
      >
        <optgroup label={t('prefs.timezone.common')}>
          {choices.common.map((o) => (
            <option key={o.zone} value={o.zone}>
              {o.zone === device ? t('prefs.timezone.thisDevice', { zone: o.label }) : o.label}
            </option>
          ))}
        </optgroup>
        <optgroup label={t('prefs.timezone.all')}>
          {choices.others.map((o) => (
            <option key={o.zone} value={o.zone}>
              {o.label}
            </option>
          ))}
        </optgroup>
      </select>
      <p className="zone-now" data-testid="zone-now">
        {t('prefs.timezone.now', { time: i18n.clock(now), zone: i18n.zoneName(current) })}
      </p>
      {i18n.foreignZone && (
        <p className="zone-device">
          {t('prefs.timezone.device', { zone: i18n.zoneName(device), id: device })}{' '}
          <button type="button" className="link-button" onClick={() => props.onChoose(device)}>
            {t('prefs.timezone.useDevice')}
          </button>
        </p>
      )}
    </section>
  );
}

function ContactRow({ label, value }: { label: string; value: string | null }) {
  const { t } = useI18n();
  return (
    <div className="contact-row">
      <dt>{label}</dt>
      <dd className={value === null ? 'muted' : undefined}>{value ?? t('contact.none')}</dd>
    </div>
  );
}
