import { Link } from 'react-router';
import { LanguageSwitch } from '../components/language-switch';
import { LogoMark } from '../components/icons';
import { EmptyState } from '../components/states';
import { useDocumentTitle } from '../components/use-document-title';
import { useI18n } from '../i18n/i18n-provider';

/**
 * The operator console at `/admin` (loaded on demand, so students never download it). Its
 * screens use the same AppShell, API client (with the admin token as bearer), i18n and states.
 */
export default function ConsoleApp() {
  const { t } = useI18n();
  useDocumentTitle(`${t('app.console')} · ${t('app.name')}`);
  return (
    <div className="login">
      <div className="login-top">
        <LanguageSwitch />
      </div>
      <div className="login-card">
        <div className="login-brand">
          <span className="login-logo">
            <LogoMark size={44} />
          </span>
          <div className="login-product">
            {t('app.name')} · {t('app.console')}
          </div>
        </div>
        <EmptyState
          title={t('console.soon.title')}
          action={
            <Link to="/" className="button">
              {t('app.center')}
            </Link>
          }
        >
          {t('console.soon.body')}
        </EmptyState>
      </div>
    </div>
  );
}
