import { useState, type ReactNode } from 'react';
import { Link } from 'react-router';
import type { Operator } from '../api/console-types';
import { LanguageSwitch } from '../components/language-switch';
import { LockIcon, LogoMark } from '../components/icons';
import { CredentialsForm } from '../components/credentials-form';
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
  useDocumentTitle(`${t('con.login.title')} · ${t('app.console')}`);

  return (
    <LoginFrame>
      <h1 className="login-title">{t('con.login.title')}</h1>
      <p className="login-subtitle">{t('con.login.subtitle')}</p>
      <CredentialsForm
        texts={{
          externalId: t('con.login.externalId'),
          externalIdHint: t('con.login.externalIdHint'),
          password: t('con.login.password'),
          submit: t('con.login.submit'),
          submitting: t('con.login.submitting'),
          missing: t('con.login.missing'),
          failed: t('con.login.failed'),
          throttled: (count) => t('con.login.throttled', { count }),
        }}
        onSubmit={login}
        notice={expired ? <p className="form-note">{t('error.unauthenticated')}</p> : null}
      />
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
