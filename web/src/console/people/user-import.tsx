import { useRef, useState } from 'react';
import type { ImportResult } from '../../api/console-types';
import { InlineError } from '../../components/states';
import { useI18n } from '../../i18n/i18n-provider';
import { useConsoleApi } from '../operator-session';

const EXAMPLE =
  'externalId,name,roles,orgPath,phone,email\n2024019901,赵一,undergraduate,农学院/作物学系/2024级9班,13812345678,2024019901@stu.example.edu.cn';

/**
 * Bulk import from the campus systems' CSV (a file or pasted text): Herald validates each row
 * on its own, imports the valid ones, and answers per row; the failed rows are listed with why.
 */
export function UserImport({ onImported }: { readonly onImported: () => void }) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const [open, setOpen] = useState(false);
  const [csv, setCsv] = useState('');
  const [fileName, setFileName] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [result, setResult] = useState<ImportResult | null>(null);
  const fileRef = useRef<HTMLInputElement>(null);

  async function run() {
    setBusy(true);
    setError(null);
    setResult(null);
    try {
      const answer = await api.importUsers(csv);
      setResult(answer);
      if (answer.created + answer.updated > 0) onImported();
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
          {t('con.import.open')}
        </button>
      </div>
    );

  const failed = result?.results.filter((r) => r.status === 'error') ?? [];
  return (
    <section className="card" aria-labelledby="import-title">
      <h2 className="card-title" id="import-title">
        {t('con.import.title')}
      </h2>
      <p className="card-hint">{t('con.import.hint')}</p>
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
      </div>
      <label className="field import-text">
        <span className="field-label">{t('con.import.paste')}</span>
        <textarea
          className="textarea code"
          name="csv"
          rows={6}
          spellCheck={false}
          placeholder={EXAMPLE}
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
            <span className="status status-ok">
              {t('con.import.created', { count: result.created })}
            </span>{' '}
            <span className="status status-ok">
              {t('con.import.updated', { count: result.updated })}
            </span>{' '}
            <span className={`status ${result.failed ? 'status-bad' : 'status-quiet'}`}>
              {t('con.import.failed', { count: result.failed })}
            </span>
          </p>
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
                        {r.externalId ?? t('con.none')}
                      </td>
                      <td data-label={t('con.import.why')} className="cell-wide">
                        {(r.errors ?? [])
                          .map((e) => (e.field ? `${e.field}: ${e.message}` : e.message))
                          .join('; ')}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {result.results.length > failed.length && (
            <details className="samples">
              <summary>{t('con.import.all', { count: result.results.length })}</summary>
              <ul className="import-rows">
                {result.results.map((r) => (
                  <li key={r.row}>
                    {t('con.import.rowN', { row: r.row })} ·{' '}
                    <span className="mono">{r.externalId}</span> ·{' '}
                    {t(`con.import.status.${r.status}`)}
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
          onClick={() => void run()}
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
