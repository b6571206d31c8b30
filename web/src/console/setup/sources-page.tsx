import { useState, type FormEvent } from 'react';
import { Link, useLocation, useNavigate } from 'react-router';
import { EmptyState, ErrorState, InlineError, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useI18n } from '../../i18n/i18n-provider';
import { PlusIcon, SetupIcon } from '../console-icons';
import { categoryName } from '../labels';
import { useConsoleApi } from '../operator-session';
import { useCategories, useSources } from '../reference-data';
import { Modal, PageHead } from '../ui';
import { CategoryChecks } from './category-checks';
import { SetupTabs } from './setup-tabs';

/** The campus systems that send through Herald, each with the categories it may send. */
export function SourcesPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const sources = useSources();
  const categories = useCategories().data;
  const [creating, setCreating] = useState(false);
  // Set by the source's page after it was deleted there.
  const deleted = (useLocation().state as { deleted?: { name: string; key: string } } | null)
    ?.deleted;
  // Not shown while the list is asked again after it was deleted.
  const listed = sources.data?.filter((s) => s.key !== deleted?.key) ?? [];
  useDocumentTitle(`${t('con.setup.sources')} · ${t('app.console')}`);

  return (
    <div className="cpage">
      <PageHead
        title={t('con.nav.setup')}
        id="setup-title"
        sub={t('con.src.sub')}
        actions={
          <button
            type="button"
            className="button button-primary button-small"
            onClick={() => setCreating(true)}
          >
            <PlusIcon size={16} />
            {t('con.src.new')}
          </button>
        }
      />
      <SetupTabs />
      {deleted && (
        <p className="ok-note" role="status" data-testid="deleted-note">
          {t('con.src.deleted', deleted)}
        </p>
      )}
      {sources.data === undefined ? (
        sources.error ? (
          <ErrorState error={sources.error} onRetry={sources.reload} />
        ) : (
          <Loading />
        )
      ) : listed.length === 0 ? (
        <div className="card">
          <EmptyState icon={<SetupIcon size={40} />} title={t('con.src.empty')}>
            {t('con.src.emptyBody')}
          </EmptyState>
        </div>
      ) : (
        <div className="card card-flush">
          <div className="table-wrap">
            <table className="table" data-testid="sources-table">
              <thead>
                <tr>
                  <th scope="col">{t('con.src.name')}</th>
                  <th scope="col">{t('con.src.categories')}</th>
                  <th scope="col">{t('con.src.created')}</th>
                </tr>
              </thead>
              <tbody>
                {listed.map((s) => (
                  <tr key={s.key}>
                    <th scope="row">
                      <Link
                        to={`/admin/setup/sources/${encodeURIComponent(s.key)}`}
                        className="cell-link"
                      >
                        {s.name}
                      </Link>
                      <span className="cell-sub mono">{s.key}</span>
                    </th>
                    <td data-label={t('con.src.categories')}>
                      {s.categories.length
                        ? s.categories
                            .map((c) => categoryName(i18n, categories, c))
                            .join(t('con.listSep'))
                        : t('con.none')}
                    </td>
                    <td data-label={t('con.src.created')}>{i18n.dateTime(s.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
      {creating && <NewSource onClose={() => setCreating(false)} onCreated={sources.reload} />}
    </div>
  );
}

function NewSource({
  onClose,
  onCreated,
}: {
  readonly onClose: () => void;
  readonly onCreated: () => void;
}) {
  const { t } = useI18n();
  const api = useConsoleApi();
  const navigate = useNavigate();
  const [key, setKey] = useState('');
  const [name, setName] = useState('');
  const [chosen, setChosen] = useState<readonly string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if (!key.trim() || !name.trim()) {
      setMissing(true);
      return;
    }
    setMissing(false);
    setBusy(true);
    setError(null);
    try {
      const source = await api.createSource({
        key: key.trim(),
        name: name.trim(),
        categories: chosen,
      });
      onCreated();
      navigate(`/admin/setup/sources/${encodeURIComponent(source.key)}`);
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <Modal title={t('con.src.new')} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate className="modal-form">
        <div className="form-grid">
          <label className="field">
            <span className="field-label">{t('con.src.key')}</span>
            <input
              className="input mono"
              name="key"
              value={key}
              placeholder="yjsy"
              autoCapitalize="off"
              onChange={(e) => setKey(e.target.value)}
            />
            <span className="field-hint">{t('con.src.keyHint')}</span>
          </label>
          <label className="field">
            <span className="field-label">{t('con.src.name')}</span>
            <input
              className="input"
              name="name"
              value={name}
              placeholder="研究生院"
              onChange={(e) => setName(e.target.value)}
            />
          </label>
        </div>
        <div className="field">
          <span className="field-label">{t('con.src.categories')}</span>
          <CategoryChecks value={chosen} onChange={setChosen} />
        </div>
        {missing && <p className="form-error">{t('con.src.missing')}</p>}
        {error ? <InlineError error={error} /> : null}
        <div className="modal-actions modal-actions-inline">
          <button type="button" className="button" onClick={onClose}>
            {t('con.cancel')}
          </button>
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? t('state.saving') : t('con.create')}
          </button>
        </div>
      </form>
    </Modal>
  );
}
