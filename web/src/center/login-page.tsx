import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { CredentialsForm } from '../components/credentials-form';
import { LanguageSwitch } from '../components/language-switch';
import { LockIcon, LogoMark } from '../components/icons';
import { useDocumentTitle } from '../components/use-document-title';
import { useI18n } from '../i18n/i18n-provider';
import { useSession } from '../session/session-provider';

/** Only paths inside the message center are followed after login (no open redirect). */
function safeNext(next: string | null): string {
  return next && next.startsWith('/') && !next.startsWith('//') ? next : '/';
}

export function LoginPage() {
  const { t } = useI18n();
  const { state, login } = useSession();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  useDocumentTitle(`${t('login.title')} · ${t('app.center')}`);

  if (state.status === 'signed-in') return <Navigate to={safeNext(params.get('next'))} replace />;

  const notice =
    state.status === 'anonymous' && state.expired ? (
      <p className="form-note">{t('error.unauthenticated')}</p>
    ) : null;

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
          <div>
            <div className="login-product">
              {t('app.name')} · {t('app.center')}
            </div>
            <div className="login-university">{t('app.university')}</div>
          </div>
        </div>
        <h1 className="login-title">{t('login.title')}</h1>
        <p className="login-subtitle">{t('login.subtitle')}</p>
        <CredentialsForm
          texts={{
            externalId: t('login.externalId'),
            externalIdHint: t('login.externalIdHint'),
            password: t('login.password'),
            submit: t('login.submit'),
            submitting: t('login.submitting'),
            missing: t('login.missing'),
            failed: t('login.failed'),
            throttled: (count) => t('login.throttled', { count }),
          }}
          onSubmit={async (externalId, password) => {
            await login(externalId, password);
            navigate(safeNext(params.get('next')), { replace: true });
          }}
          notice={notice}
        />
        <div className="divider">
          <span>{t('login.or')}</span>
        </div>
        {/* Campus SSO (统一身份认证, CAS/OAuth) plugs in here when Herald gets it. */}
        <button type="button" className="button button-block button-sso" disabled>
          <LockIcon size={18} />
          <span>{t('login.sso')}</span>
          <span className="tag">{t('login.ssoSoon')}</span>
        </button>
      </div>
    </div>
  );
}
