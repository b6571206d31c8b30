import { useState, type FormEvent, type ReactNode } from 'react';
import { isApiError } from '../api/api-error';
import { InlineError } from '../components/states';
import { useI18n } from '../i18n/i18n-provider';
import type { ErrorText } from '../i18n/problem-text';
import { Modal } from './ui';

/**
 * The one confirmation before a group, a source or a category is deleted for good: the item
 * named with its key, what will happen in words, and the key typed to confirm. When Herald
 * refuses (409 `conflict`: a source that has sent messages, a category messages were sent in),
 * the refusal is said in this place's words with what to do instead, and the dialog then offers
 * only that.
 */
export function ConfirmDelete({
  title,
  name,
  itemKey,
  consequences,
  refusal,
  refusalAction,
  onDelete,
  onDeleted,
  onClose,
}: {
  readonly title: string;
  /** The item's name as the list shows it. */
  readonly name: string;
  readonly itemKey: string;
  /** What deleting does, one sentence each (false: a sentence that does not apply). */
  readonly consequences: readonly (ReactNode | false)[];
  /** What Herald's 409 means here, and the advice. */
  readonly refusal?: ErrorText;
  /** Shown instead of the delete button once refused (e.g. "go to its API keys"). */
  readonly refusalAction?: ReactNode;
  readonly onDelete: () => Promise<void>;
  readonly onDeleted: () => void;
  readonly onClose: () => void;
}) {
  const { t } = useI18n();
  const [typed, setTyped] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const refused = isApiError(error, 'conflict');
  const confirmed = typed.trim() === itemKey;
  const [typeBefore = '', typeAfter = ''] = t('con.del.typeKey').split('{key}');

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!confirmed || busy) return;
    setBusy(true);
    setError(null);
    try {
      await onDelete();
      onDeleted();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <Modal title={title} onClose={onClose}>
      <form
        onSubmit={(e) => void submit(e)}
        noValidate
        className="modal-form confirm-delete"
        data-testid="confirm-delete"
      >
        <div className="confirm-item">
          <span className="confirm-item-name">{name}</span>
          <span className="mono small">{itemKey}</span>
        </div>
        {!refused && (
          <ul className="confirm-list">
            {consequences.map((line, i) => line !== false && <li key={i}>{line}</li>)}
          </ul>
        )}
        {refused ? (
          <InlineError error={error} {...(refusal ? { words: { conflict: refusal } } : {})} />
        ) : (
          <>
            <p className="confirm-final">{t('con.del.final')}</p>
            <label className="field">
              <span className="field-label">
                {typeBefore}
                <code className="confirm-key">{itemKey}</code>
                {typeAfter}
              </span>
              <input
                className="input mono"
                name="confirm-key"
                value={typed}
                autoComplete="off"
                autoCapitalize="off"
                autoCorrect="off"
                spellCheck={false}
                onChange={(e) => setTyped(e.target.value)}
              />
            </label>
            {error ? <InlineError error={error} /> : null}
          </>
        )}
        <div className="modal-actions modal-actions-inline">
          <button type="button" className="button" onClick={onClose}>
            {refused ? t('con.close') : t('con.cancel')}
          </button>
          {refused ? (
            refusalAction
          ) : (
            <button
              type="submit"
              className="button button-primary button-danger-solid"
              disabled={!confirmed || busy}
            >
              {busy ? t('con.del.deleting') : t('con.del.confirm')}
            </button>
          )}
        </div>
      </form>
    </Modal>
  );
}
