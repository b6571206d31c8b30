import { useState, type FormEvent, type ReactNode } from 'react';
import { isApiError } from '../api/api-error';
import { InlineError } from './states';

/** The page's own wording for the ID + password form. */
export interface CredentialsTexts {
  readonly externalId: string;
  readonly externalIdHint: string;
  readonly password: string;
  readonly submit: string;
  readonly submitting: string;
  readonly missing: string;
  readonly failed: string;
  readonly throttled: (minutes: number) => string;
}

interface CredentialsFormProps {
  readonly texts: CredentialsTexts;
  /** Signs in; rejects with the API error when the credentials are refused. */
  readonly onSubmit: (externalId: string, password: string) => Promise<void>;
  /** Shown under the fields while there is nothing else to say (e.g. "session expired"). */
  readonly notice?: ReactNode;
}

/** The staff/student ID + password form shared by the message center and the console. */
export function CredentialsForm({ texts, onSubmit, notice = null }: CredentialsFormProps) {
  const [externalId, setExternalId] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);

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
      await onSubmit(externalId.trim(), password);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  let message: ReactNode = notice;
  if (missing) message = <p className="form-error">{texts.missing}</p>;
  else if (isApiError(error, 'unauthenticated'))
    message = (
      <p className="form-error" role="alert">
        {texts.failed}
      </p>
    );
  else if (isApiError(error, 'too-many-requests')) {
    const count = Math.max(1, Math.ceil((error.retryAfter ?? 60) / 60));
    message = (
      <p className="form-error" role="alert">
        {texts.throttled(count)}
      </p>
    );
  } else if (error) message = <InlineError error={error} />;

  return (
    <form onSubmit={(e) => void submit(e)} noValidate>
      <label className="field">
        <span className="field-label">{texts.externalId}</span>
        <input
          name="externalId"
          autoComplete="username"
          autoCapitalize="off"
          spellCheck={false}
          placeholder={texts.externalIdHint}
          value={externalId}
          onChange={(e) => setExternalId(e.target.value)}
        />
      </label>
      <label className="field">
        <span className="field-label">{texts.password}</span>
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
        {busy ? texts.submitting : texts.submit}
      </button>
    </form>
  );
}
