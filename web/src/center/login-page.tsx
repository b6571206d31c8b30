import { useState, type FormEvent, type ReactNode } from 'react';
import { Navigate, useNavigate, useSearchParams } from 'react-router';
import { isApiError } from '../api/api-error';
import { LanguageSwitch } from '../components/language-switch';
import { LockIcon, LogoMark } from '../components/icons';
import { InlineError } from '../components/states';
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
  const [externalId, setExternalId] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  useDocumentTitle(`${t('login.title')} · ${t('app.center')}`);

  if (state.status === 'signed-in') return <Navigate to={safeNext(params.get('next'))} replace />;

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!externalId.trim() || !password) {
      setMissing(true);
      return;
    }
    setMissing(false);
    setBusy(true);
    setError(null);
    try {
      await login(externalId.trim(), password);
      navigate(safeNext(params.get('next')), { replace: true });
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  let message: ReactNode = null;
  if (missing) message = <p className="form-error">{t('login.missing')}</p>;
  else if (isApiError(error, 'unauthenticated'))
    message = (
      <p className="form-error" role="alert">
        {t('login.failed')}
      </p>
    );
  else if (isApiError(error, 'too-many-requests')) {
    const count = Math.max(1, Math.ceil((error.retryAfter ?? 60) / 60));
    message = (
      <p className="form-error" role="alert">
        {t('login.throttled', { count })}
      </p>
    );
  } else if (error) message = <InlineError error={error} />;
  else if (state.status === 'anonymous' && state.expired)
    message = <p className="form-note">{t('error.unauthenticated')}</p>;

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
        <form onSubmit={(e) => void submit(e)} noValidate>
          <label className="field">
            <span className="field-label">{t('login.externalId')}</span>
            <input
              name="externalId"
              autoComplete="username"
              autoCapitalize="off"
              spellCheck={false}
              placeholder={t('login.externalIdHint')}
              value={externalId}
              onChange={(e) => setExternalId(e.target.value)}
            />
          </label>
          <label className="field">
            <span className="field-label">{t('login.password')}</span>
            <input
              name="password"
              type="password"
              autoComplete="current-password"
              value={password}
              onChange={(e) => setPassword(e.target.value)}
            />
          </label>
          {message}
          <button type="submit" className="button button-primary button-block" disabled={busy}>
            {busy ? t('login.submitting') : t('login.submit')}
          </button>
        </form>
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
