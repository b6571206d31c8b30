import { useRef, useState, type ReactNode } from 'react';
import { InlineError } from '../../components/states';
import { useI18n } from '../../i18n/i18n-provider';

/** What an import answered, in the form this screen shows it. */
export interface ImportOutcome {
  readonly counts: readonly { readonly label: string; readonly tone: 'ok' | 'bad' | 'quiet' }[];
  /** Anything more to say (the groups changed …). */
  readonly note?: string;
  readonly rows: readonly {
    readonly row: number;
    readonly id: string;
    readonly ok: boolean;
    readonly status: string;
    readonly why: string;
  }[];
  /** Something was imported: the list beside it is out of date. */
  readonly changed: boolean;
}

/**
 * A bulk import from the campus systems' CSV (a file or pasted text). Herald checks each row
 * on its own and imports the valid ones; the answer is shown as counts and the failed rows
 * with their reasons, then every row on demand.
 */
export function CsvImport({
  openLabel,
  title,
  hint,
  example,
  options,
  run,
  onImported,
}: {
  readonly openLabel: string;
  readonly title: string;
  readonly hint: string;
  readonly example: string;
  /** Choices beside the file (e.g. replace or add). */
  readonly options?: ReactNode;
  readonly run: (csv: string) => Promise<ImportOutcome>;
  readonly onImported: () => void;
}) {
  const { t } = useI18n();
  const [open, setOpen] = useState(false);
  const [csv, setCsv] = useState('');
  const [fileName, setFileName] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<ImportOutcome | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);

  async function start() {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const outcome = await run(csv);
      setResult(outcome);
      if (outcome.changed) onImported();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  if (!open)
    return (
      <div className="import-bar">
        <button type="button" className="button button-small" onClick={() => setOpen(true)}>
          {openLabel}
        </button>
      </div>
    );

  const failed = result?.rows.filter((r) => !r.ok) ?? [];
  return (
    <section className="card" aria-label={title}>
      <h2 className="card-title">{title}</h2>
      <p className="card-hint">{hint}</p>
      <div className="actions-row">
        <input
          ref={fileRef}
          type="file"
          accept=".csv,text/csv"
          className="visually-hidden"
          data-testid="import-file"
          onChange={(e) => {
            const file = e.target.files?.[0];
            if (!file) return;
            setFileName(file.name);
            void file.text().then(setCsv);
          }}
        />
        <button
          type="button"
          className="button button-small"
          onClick={() => fileRef.current?.click()}
        >
          {t('con.import.choose')}
        </button>
        {fileName && <span className="muted small">{fileName}</span>}
        {options}
      </div>
      <label className="field import-text">
        <span className="field-label">{t('con.import.paste')}</span>
        <textarea
          className="textarea code"
          name="csv"
          rows={6}
          spellCheck={false}
          placeholder={example}
          value={csv}
          onChange={(e) => {
            setCsv(e.target.value);
            setFileName(null);
          }}
        />
      </label>
      {error ? <InlineError error={error} /> : null}
      {result && (
        <div className="import-result" data-testid="import-result" role="status">
          <p>
            {result.counts.map((c) => (
              <span key={c.label} className={`status status-${c.tone}`}>
                {c.label}
              </span>
            ))}
          </p>
          {result.note && <p className="muted small">{result.note}</p>}
          {failed.length > 0 && (
            <div className="table-wrap">
              <table className="table" data-testid="import-errors">
                <thead>
                  <tr>
                    <th scope="col">{t('con.import.row')}</th>
                    <th scope="col">{t('con.import.id')}</th>
                    <th scope="col">{t('con.import.why')}</th>
                  </tr>
                </thead>
                <tbody>
                  {failed.map((r) => (
                    <tr key={r.row}>
                      <th scope="row">{t('con.import.rowN', { row: r.row })}</th>
                      <td data-label={t('con.import.id')} className="mono">
                        {r.id || t('con.none')}
                      </td>
                      <td data-label={t('con.import.why')} className="cell-wide">
                        {r.why}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {result.rows.length > failed.length && (
            <details className="samples">
              <summary>{t('con.import.all', { count: result.rows.length })}</summary>
              <ul className="import-rows">
                {result.rows.map((r) => (
                  <li key={r.row}>
                    {t('con.import.rowN', { row: r.row })} · <span className="mono">{r.id}</span> ·{' '}
                    {r.status}
                  </li>
                ))}
              </ul>
            </details>
          )}
        </div>
      )}
      <div className="actions-row">
        <button
          type="button"
          className="button button-primary"
          disabled={busy || !csv.trim()}
          onClick={() => void start()}
        >
          {busy ? t('con.import.running') : t('con.import.run')}
        </button>
        <button type="button" className="button" onClick={() => setOpen(false)}>
          {t('con.close')}
        </button>
      </div>
    </section>
  );
}

/** A row's errors as one line: "phone: must be …; email: …". */
export function errorsText(
  errors: readonly { readonly field?: string; readonly message: string }[] | undefined,
): string {
  return (errors ?? []).map((e) => (e.field ? `${e.field}: ${e.message}` : e.message)).join('; ');
}
