import { useI18n } from '../i18n/i18n-provider';
import { LOCALE_NAMES, LOCALES } from '../i18n/locale';
import { GlobeIcon } from './icons';

/**
 * Switches the UI language from anywhere (header, login screen). Each language is named in
 * itself, so a reader who does not understand the current one still finds theirs.
 */
export function LanguageSwitch() {
  const { locale, setLocale, t } = useI18n();
  return (
    <div className="language-switch" role="group" aria-label={t('lang.switch')}>
      <GlobeIcon size={16} />
      {LOCALES.map((l) => (
        <button
          key={l}
          type="button"
          lang={l}
          className={l === locale ? 'active' : undefined}
          aria-pressed={l === locale}
          onClick={() => setLocale(l)}
        >
          {LOCALE_NAMES[l]}
        </button>
      ))}
    </div>
  );
}
