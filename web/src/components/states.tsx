import type { ReactNode } from 'react';
import { isApiError } from '../api/api-error';
import { useI18n } from '../i18n/i18n-provider';
import { errorText, type ErrorWords } from '../i18n/problem-text';
import { AlertIcon } from './icons';

/** A spinner with its words, for a region that is loading. */
export function Loading({ label }: { readonly label?: string }) {
  const { t } = useI18n();
  return (
    <div className="state state-loading" role="status" aria-live="polite">
      <span className="spinner" aria-hidden="true" />
      <span>{label ?? t('state.loading')}</span>
    </div>
  );
}

export interface EmptyStateProps {
  readonly icon?: ReactNode;
  readonly title: string;
  readonly children?: ReactNode;
  readonly action?: ReactNode;
}

/** Nothing to show yet, said kindly, with what to do about it. */
export function EmptyState({ icon, title, children, action }: EmptyStateProps) {
  return (
    <div className="state state-empty">
      {icon && <div className="state-icon">{icon}</div>}
      <h2 className="state-title">{title}</h2>
      {children && <p className="state-body">{children}</p>}
      {action && <div className="state-action">{action}</div>}
    </div>
  );
}

/** A failed load: the error in the reader's language, and a way to try again (unless it is gone). */
export function ErrorState({
  error,
  onRetry,
}: {
  readonly error: unknown;
  readonly onRetry?: () => void;
}) {
  const i18n = useI18n();
  const { message, detail } = errorText(error, i18n);
  return (
    <div className="state state-error" role="alert">
      <div className="state-icon">
        <AlertIcon size={40} />
      </div>
      <h2 className="state-title">{message}</h2>
      {detail && <p className="state-body state-detail">{detail}</p>}
      {onRetry && !isApiError(error, 'not-found') && (
        <div className="state-action">
          <button type="button" className="button" onClick={onRetry}>
            {i18n.t('state.retry')}
          </button>
        </div>
      )}
    </div>
  );
}

/**
 * An error beside a form or an action, in one line or two; `words` says what some codes mean
 * there (a refused delete and what to do instead).
 */
export function InlineError({
  error,
  words,
}: {
  readonly error: unknown;
  readonly words?: ErrorWords;
}) {
  const i18n = useI18n();
  const { message, detail } = errorText(error, i18n, words);
  return (
    <div className="inline-error" role="alert">
      <AlertIcon size={18} />
      <div>
        <div>{message}</div>
        {detail && <div className="inline-error-detail">{detail}</div>}
      </div>
    </div>
  );
}
