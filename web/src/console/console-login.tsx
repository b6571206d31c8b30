import { useState, type FormEvent, type ReactNode } from 'react';
import { Link } from 'react-router';
import { isApiError } from '../api/api-error';
import type { Operator } from '../api/console-types';
import { LanguageSwitch } from '../components/language-switch';
import { LockIcon, LogoMark } from '../components/icons';
import { InlineError } from '../components/states';
import { useDocumentTitle } from '../components/use-document-title';
import { useI18n } from '../i18n/i18n-provider';
import { useOperatorSession } from './operator-session';

function LoginFrame({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  return (
    <div className="login console-login">
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
              {t('app.name')} · {t('app.console')}
            </div>
            <div className="login-university">{t('app.university')}</div>
          </div>
        </div>
        {children}
      </div>
    </div>
  );
}

/** Operators sign in with their own staff account; the session opens the console. */
export function ConsoleLogin({ expired }: { readonly expired: boolean }) {
  const { t } = useI18n();
  const { login } = useOperatorSession();
  const [externalId, setExternalId] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);
  useDocumentTitle(`${t('con.login.title')} · ${t('app.console')}`);

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
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  let message: ReactNode = null;
  if (missing) message = <p className="form-error">{t('con.login.missing')}</p>;
  else if (isApiError(error, 'unauthenticated'))
    message = (
      <p className="form-error" role="alert">
        {t('con.login.failed')}
      </p>
    );
  else if (isApiError(error, 'too-many-requests')) {
    const count = Math.max(1, Math.ceil((error.retryAfter ?? 60) / 60));
    message = (
      <p className="form-error" role="alert">
        {t('con.login.throttled', { count })}
      </p>
    );
  } else if (error) message = <InlineError error={error} />;
  else if (expired) message = <p className="form-note">{t('error.unauthenticated')}</p>;

  return (
    <LoginFrame>
      <h1 className="login-title">{t('con.login.title')}</h1>
      <p className="login-subtitle">{t('con.login.subtitle')}</p>
      <form onSubmit={(e) => void submit(e)} noValidate>
        <label className="field">
          <span className="field-label">{t('con.login.externalId')}</span>
          <input
            name="externalId"
            autoComplete="username"
            autoCapitalize="off"
            spellCheck={false}
            placeholder={t('con.login.externalIdHint')}
            value={externalId}
            onChange={(e) => setExternalId(e.target.value)}
          />
        </label>
        <label className="field">
          <span className="field-label">{t('con.login.password')}</span>
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
          {busy ? t('con.login.submitting') : t('con.login.submit')}
        </button>
      </form>
      <p className="login-foot">
        <LockIcon size={14} /> {t('con.login.who')}
      </p>
    </LoginFrame>
  );
}

/** Signed in, but the account does not hold the operator role: say so, and offer the ways on. */
export function NotOperator({ me }: { readonly me: Operator }) {
  const { t } = useI18n();
  const { logout } = useOperatorSession();
  const [busy, setBusy] = useState(false);
  useDocumentTitle(`${t('con.notOperator.title')} · ${t('app.console')}`);
  return (
    <LoginFrame>
      <div className="not-operator" role="alert" data-testid="not-operator">
        <h1 className="login-title">{t('con.notOperator.title')}</h1>
        <p className="login-subtitle">
          {t('con.notOperator.body', { name: me.name, id: me.externalId })}
        </p>
        <p className="muted small">{t('con.notOperator.how')}</p>
        <div className="stack-actions">
          <button
            type="button"
            className="button button-primary button-block"
            disabled={busy}
            onClick={() => {
              setBusy(true);
              void logout();
            }}
          >
            {t('con.notOperator.switch')}
          </button>
          <Link to="/" className="button button-block">
            {t('con.notOperator.center')}
          </Link>
        </div>
      </div>
    </LoginFrame>
  );
}
