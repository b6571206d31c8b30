import { useState } from 'react';
import { Link, useNavigate, useParams } from 'react-router';
import type { ApiKey, NewApiKey, Source } from '../../api/console-types';
import { BackIcon } from '../../components/icons';
import { ErrorState, InlineError, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useI18n } from '../../i18n/i18n-provider';
import { ConfirmDelete } from '../confirm-delete';
import { CopyIcon, PlusIcon } from '../console-icons';
import { useConsoleApi } from '../operator-session';
import { useSources } from '../reference-data';
import { Facts, Modal, PageHead } from '../ui';
import { useResource } from '../use-resource';
import { CategoryChecks } from './category-checks';

/**
 * One source: what it may send, and its API keys (created with the secret shown once, revoked).
 * It can be deleted while it has sent nothing; after that Herald refuses, and the way to stop it
 * is to revoke its keys.
 */
export function SourcePage() {
  const { key = '' } = useParams();
  const { t } = useI18n();
  const api = useConsoleApi();
  const sources = useSources();
  const navigate = useNavigate();
  const source = useResource(`source:${key}`, () => api.source(key));
  const [deleting, setDeleting] = useState<Source | null>(null);
  useDocumentTitle(`${source.data?.name ?? key} · ${t('app.console')}`);
  return (
    <div className="cpage cpage-narrow">
      <Link to="/admin/setup/sources" className="back-link">
        <BackIcon size={18} />
        {t('con.src.back')}
      </Link>
      {source.data === undefined ? (
        source.error ? (
          <ErrorState error={source.error} onRetry={source.reload} />
        ) : (
          <Loading />
        )
      ) : (
        <>
          <PageHead
            title={source.data.name}
            id="source-title"
            sub={<span className="mono">{source.data.key}</span>}
            actions={
              <button
                type="button"
                className="button button-small button-danger"
                onClick={() => setDeleting(source.data ?? null)}
              >
                {t('con.src.delete')}
              </button>
            }
          />
          <SourceCategories source={source.data} onSaved={source.reload} />
          <ApiKeys sourceKey={source.data.key} />
        </>
      )}
      {deleting && (
        <ConfirmDelete
          title={t('con.src.deleteTitle')}
          name={deleting.name}
          itemKey={deleting.key}
          consequences={[
            t('con.src.deleteKeys', { name: deleting.name }),
            t('con.src.deleteUnused'),
          ]}
          refusal={{
            message: t('con.src.deleteRefused', { name: deleting.name }),
            detail: t('con.src.deleteRefusedAdvice'),
          }}
          refusalAction={
            <button
              type="button"
              className="button button-primary"
              onClick={() => {
                setDeleting(null);
                document.getElementById('keys-title')?.scrollIntoView({ block: 'start' });
              }}
            >
              {t('con.src.toKeys')}
            </button>
          }
          onDelete={() => api.deleteSource(deleting.key)}
          onDeleted={() => {
            sources.reload();
            navigate('/admin/setup/sources', {
              state: { deleted: { name: deleting.name, key: deleting.key } },
            });
          }}
          onClose={() => setDeleting(null)}
        />
      )}
    </div>
  );
}

function SourceCategories({
  source,
  onSaved,
}: {
  readonly source: Source;
  readonly onSaved: () => void;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const sources = useSources();
  const [chosen, setChosen] = useState<readonly string[]>(source.categories);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState(false);
  const dirty =
    JSON.stringify([...chosen].sort()) !== JSON.stringify([...source.categories].sort());

  async function save() {
    setBusy(true);
    setError(null);
    setSaved(false);
    try {
      await api.updateSource(source.key, { categories: chosen });
      setSaved(true);
      onSaved();
      sources.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <section className="card">
      <h2 className="card-title">{t('con.src.categories')}</h2>
      <p className="card-hint">{t('con.src.categoriesHint')}</p>
      <CategoryChecks
        value={chosen}
        onChange={(next) => {
          setChosen(next);
          setSaved(false);
        }}
      />
      <Facts
        items={[
          [t('con.src.created'), i18n.dateTime(source.createdAt)],
          [t('con.src.updated'), i18n.dateTime(source.updatedAt)],
        ]}
      />
      {error ? <InlineError error={error} /> : null}
      {saved && !dirty && <p className="ok-note">{t('state.saved')}</p>}
      <div className="actions-row">
        <button
          type="button"
          className="button button-primary"
          disabled={!dirty || busy}
          onClick={() => void save()}
        >
          {busy ? t('state.saving') : t('con.save')}
        </button>
      </div>
    </section>
  );
}

function ApiKeys({ sourceKey }: { readonly sourceKey: string }) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const keys = useResource(`keys:${sourceKey}`, async () => (await api.apiKeys(sourceKey)).items);
  const [created, setCreated] = useState<NewApiKey | null>(null);
  const [revoking, setRevoking] = useState<ApiKey | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function create() {
    setBusy(true);
    setError(null);
    try {
      setCreated(await api.createApiKey(sourceKey));
      keys.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function revoke(key: ApiKey) {
    setBusy(true);
    setError(null);
    try {
      await api.revokeApiKey(sourceKey, key.id);
      setRevoking(null);
      keys.reload();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const active = keys.data?.filter((k) => !k.revokedAt) ?? [];
  return (
    <section className="card" aria-labelledby="keys-title">
      <div className="card-head">
        <h2 className="card-title" id="keys-title">
          {t('con.keys.title')}
        </h2>
        <button
          type="button"
          className="button button-small"
          disabled={busy}
          onClick={() => void create()}
        >
          <PlusIcon size={16} />
          {t('con.keys.create')}
        </button>
      </div>
      <p className="card-hint">{t('con.keys.hint')}</p>
      {error && !revoking ? <InlineError error={error} /> : null}
      {keys.data === undefined ? (
        keys.error ? (
          <ErrorState error={keys.error} onRetry={keys.reload} />
        ) : (
          <Loading />
        )
      ) : keys.data.length === 0 ? (
        <p className="muted">{t('con.keys.none')}</p>
      ) : (
        <ul className="key-list" data-testid="api-keys">
          {keys.data.map((k) => (
            <li key={k.id} className={`key${k.revokedAt ? ' key-revoked' : ''}`}>
              <div className="key-main">
                <span className="mono">hk_{k.prefix}_…</span>
                {k.revokedAt ? (
                  <span className="status status-quiet">{t('con.keys.revoked')}</span>
                ) : (
                  <span className="status status-ok">{t('con.keys.active')}</span>
                )}
              </div>
              <div className="muted small">
                {t('con.keys.createdAt', { time: i18n.dateTime(k.createdAt) })}
                {' · '}
                {k.revokedAt
                  ? t('con.keys.revokedAt', { time: i18n.dateTime(k.revokedAt) })
                  : k.lastUsedAt
                    ? t('con.keys.lastUsed', { time: i18n.dateTime(k.lastUsedAt) })
                    : t('con.keys.neverUsed')}
              </div>
              {!k.revokedAt && (
                <button
                  type="button"
                  className="button button-small button-danger"
                  onClick={() => setRevoking(k)}
                >
                  {t('con.keys.revoke')}
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
      {active.length === 0 && keys.data && keys.data.length > 0 && (
        <p className="form-note">{t('con.keys.noneActive')}</p>
      )}

      {created && (
        <Modal
          title={t('con.keys.createdTitle')}
          onClose={() => setCreated(null)}
          actions={
            <button
              type="button"
              className="button button-primary"
              onClick={() => setCreated(null)}
            >
              {t('con.keys.stored')}
            </button>
          }
        >
          <p className="form-note">{t('con.keys.once')}</p>
          <Secret value={created.secret} />
          <p className="muted small">{t('con.keys.use')}</p>
        </Modal>
      )}
      {revoking && (
        <Modal
          title={t('con.keys.revokeTitle')}
          onClose={() => setRevoking(null)}
          actions={
            <>
              <button type="button" className="button" onClick={() => setRevoking(null)}>
                {t('con.cancel')}
              </button>
              <button
                type="button"
                className="button button-primary button-danger-solid"
                disabled={busy}
                onClick={() => void revoke(revoking)}
              >
                {t('con.keys.revoke')}
              </button>
            </>
          }
        >
          <p>{t('con.keys.revokeBody', { prefix: `hk_${revoking.prefix}_…` })}</p>
          {error ? <InlineError error={error} /> : null}
        </Modal>
      )}
    </section>
  );
}

/** A secret shown once, selectable, with a copy button. */
function Secret({ value }: { readonly value: string }) {
  const { t } = useI18n();
  const [copied, setCopied] = useState(false);
  return (
    <div className="secret">
      <code data-testid="secret">{value}</code>
      <button
        type="button"
        className="button button-small"
        onClick={() => {
          void navigator.clipboard?.writeText(value).then(() => setCopied(true));
        }}
      >
        <CopyIcon size={16} />
        {copied ? t('con.copied') : t('con.copy')}
      </button>
    </div>
  );
}
