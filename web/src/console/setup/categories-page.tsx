import { useState, type FormEvent } from 'react';
import { Link } from 'react-router';
import { CHANNELS, type Category, type Priority } from '../../api/console-types';
import { EmptyState, ErrorState, InlineError, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useI18n } from '../../i18n/i18n-provider';
import { PlusIcon, SetupIcon } from '../console-icons';
import { channelLabel, priorityLabel } from '../labels';
import { ConfirmDelete } from '../confirm-delete';
import { useConsoleApi } from '../operator-session';
import { useCategories, useSources } from '../reference-data';
import { useResource } from '../use-resource';
import { Modal, PageHead } from '../ui';
import { SetupTabs } from './setup-tabs';

const PRIORITIES: readonly Priority[] = ['urgent', 'normal', 'bulk'];

/**
 * The kinds of notification: their names, queue lane, whether users may turn them off, channels.
 * One no message was sent in can be deleted, with its templates.
 */
export function CategoriesPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const categories = useCategories();
  const [editing, setEditing] = useState<Category | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Category | null>(null);
  const [deleted, setDeleted] = useState<{ name: string; key: string } | null>(null);
  // Not shown while the list is asked again after it was deleted.
  const listed = categories.data?.filter((c) => c.key !== deleted?.key) ?? [];
  useDocumentTitle(`${t('con.setup.categories')} · ${t('app.console')}`);

  return (
    <div className="cpage">
      <PageHead
        title={t('con.nav.setup')}
        id="setup-title"
        sub={t('con.cat.sub')}
        actions={
          <button
            type="button"
            className="button button-primary button-small"
            onClick={() => setEditing('new')}
          >
            <PlusIcon size={16} />
            {t('con.cat.new')}
          </button>
        }
      />
      <SetupTabs />
      {deleted && (
        <p className="ok-note" role="status" data-testid="deleted-note">
          {t('con.cat.deleted', deleted)}
        </p>
      )}
      {categories.data === undefined ? (
        categories.error ? (
          <ErrorState error={categories.error} onRetry={categories.reload} />
        ) : (
          <Loading />
        )
      ) : listed.length === 0 ? (
        <div className="card">
          <EmptyState icon={<SetupIcon size={40} />} title={t('con.cat.empty')}>
            {t('con.cat.emptyBody')}
          </EmptyState>
        </div>
      ) : (
        <div className="card card-flush">
          <div className="table-wrap">
            <table className="table" data-testid="categories-table">
              <thead>
                <tr>
                  <th scope="col">{t('con.cat.name')}</th>
                  <th scope="col">{t('con.cat.priority')}</th>
                  <th scope="col">{t('con.cat.channels')}</th>
                  <th scope="col" className="num">
                    {t('con.cat.attempts')}
                  </th>
                  <th scope="col">
                    <span className="visually-hidden">{t('con.edit')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {listed.map((c) => (
                  <tr key={c.key}>
                    <th scope="row">
                      {i18n.pick(c.name, c.key)}
                      <span className="cell-sub mono">{c.key}</span>
                    </th>
                    <td data-label={t('con.cat.priority')}>
                      <span className={`tag${c.priority === 'urgent' ? ' tag-warn' : ''}`}>
                        {priorityLabel(i18n, c.priority)}
                      </span>
                      {c.mandatory && (
                        <span className="cell-sub">{t('con.cat.mandatoryShort')}</span>
                      )}
                    </td>
                    <td data-label={t('con.cat.channels')}>
                      {c.defaultChannels.map((ch) => channelLabel(i18n, ch)).join(t('con.listSep'))}
                    </td>
                    <td className="num" data-label={t('con.cat.attempts')}>
                      {c.maxAttempts}
                    </td>
                    <td className="cell-actions">
                      <button
                        type="button"
                        className="button button-small"
                        onClick={() => setEditing(c)}
                      >
                        {t('con.edit')}
                      </button>{' '}
                      <Link
                        className="button button-small"
                        to={`/admin/templates?category=${encodeURIComponent(c.key)}`}
                      >
                        {t('con.nav.templates')}
                      </Link>{' '}
                      <button
                        type="button"
                        className="button button-small button-danger"
                        aria-label={t('con.cat.deleteLabel', { name: i18n.pick(c.name, c.key) })}
                        onClick={() => setDeleting(c)}
                      >
                        {t('con.cat.delete')}
                      </button>
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        </div>
      )}
      {deleting && (
        <DeleteCategory
          category={deleting}
          onClose={() => setDeleting(null)}
          onDeleted={() => {
            setDeleted({ name: i18n.pick(deleting.name, deleting.key), key: deleting.key });
            setDeleting(null);
            categories.reload();
          }}
        />
      )}
      {editing && (
        <CategoryForm
          category={editing === 'new' ? null : editing}
          onClose={() => setEditing(null)}
          onSaved={() => {
            setEditing(null);
            setDeleted(null);
            categories.reload();
          }}
        />
      )}
    </div>
  );
}

/** The confirmation, naming the templates that go with the category and the sources that lose it. */
function DeleteCategory({
  category,
  onClose,
  onDeleted,
}: {
  readonly category: Category;
  readonly onClose: () => void;
  readonly onDeleted: () => void;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const templates = useResource(
    `templates:${category.key}`,
    async () => (await api.templates(category.key)).items,
  );
  const senders = (useSources().data ?? []).filter((s) => s.categories.includes(category.key));
  const name = i18n.pick(category.name, category.key);
  const list = templates.data
    ?.map((tpl) => `${channelLabel(i18n, tpl.channel)} ${tpl.locale}`)
    .join(t('con.listSep'));
  return (
    <ConfirmDelete
      title={t('con.cat.deleteTitle')}
      name={name}
      itemKey={category.key}
      consequences={[
        templates.data === undefined
          ? t('state.loading')
          : templates.data.length === 0
            ? t('con.cat.deleteNoTemplates')
            : t('con.cat.deleteTemplates', { count: templates.data.length, list: list ?? '' }),
        senders.length > 0 &&
          t('con.cat.deleteSources', {
            list: senders.map((s) => s.name).join(t('con.listSep')),
          }),
        t('con.cat.deleteUnused'),
      ]}
      refusal={{
        message: t('con.cat.deleteRefused', { name }),
        detail: t('con.cat.deleteRefusedAdvice'),
      }}
      onDelete={() => api.deleteCategory(category.key)}
      onDeleted={onDeleted}
      onClose={onClose}
    />
  );
}

function CategoryForm({
  category,
  onClose,
  onSaved,
}: {
  readonly category: Category | null;
  readonly onClose: () => void;
  readonly onSaved: () => void;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const [key, setKey] = useState(category?.key ?? '');
  const [nameZh, setNameZh] = useState(category?.name['zh-CN'] ?? '');
  const [nameEn, setNameEn] = useState(category?.name.en ?? '');
  const [priority, setPriority] = useState<Priority>(category?.priority ?? 'normal');
  const [mandatory, setMandatory] = useState(category?.mandatory ?? false);
  const [channels, setChannels] = useState<readonly string[]>(
    category?.defaultChannels ?? ['in_app'],
  );
  const [maxAttempts, setMaxAttempts] = useState(String(category?.maxAttempts ?? 5));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    if ((!category && !key.trim()) || (!nameZh.trim() && !nameEn.trim()) || !channels.length) {
      setMissing(true);
      return;
    }
    setMissing(false);
    setBusy(true);
    setError(null);
    const name: Record<string, string> = {};
    if (nameZh.trim()) name['zh-CN'] = nameZh.trim();
    if (nameEn.trim()) name.en = nameEn.trim();
    const body = {
      name,
      priority,
      mandatory,
      defaultChannels: channels,
      maxAttempts: Number(maxAttempts),
    };
    try {
      if (category) await api.updateCategory(category.key, body);
      else await api.createCategory({ key: key.trim(), ...body });
      onSaved();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <Modal title={category ? t('con.cat.edit') : t('con.cat.new')} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate className="modal-form">
        <label className="field">
          <span className="field-label">{t('con.cat.key')}</span>
          <input
            className="input mono"
            name="key"
            value={key}
            disabled={category !== null}
            placeholder="thesis.defense"
            onChange={(e) => setKey(e.target.value)}
          />
          <span className="field-hint">{t('con.cat.keyHint')}</span>
        </label>
        <div className="form-grid">
          <label className="field">
            <span className="field-label">{t('con.cat.nameZh')}</span>
            <input
              className="input"
              name="nameZh"
              value={nameZh}
              onChange={(e) => setNameZh(e.target.value)}
            />
          </label>
          <label className="field">
            <span className="field-label">{t('con.cat.nameEn')}</span>
            <input
              className="input"
              name="nameEn"
              value={nameEn}
              onChange={(e) => setNameEn(e.target.value)}
            />
          </label>
          <label className="field">
            <span className="field-label">{t('con.cat.priority')}</span>
            <select
              className="select select-block"
              value={priority}
              onChange={(e) => setPriority(e.target.value as Priority)}
            >
              {PRIORITIES.map((p) => (
                <option key={p} value={p}>
                  {priorityLabel(i18n, p)}
                </option>
              ))}
            </select>
          </label>
          <label className="field">
            <span className="field-label">{t('con.cat.attempts')}</span>
            <input
              className="input"
              type="number"
              min={1}
              max={50}
              value={maxAttempts}
              onChange={(e) => setMaxAttempts(e.target.value)}
            />
          </label>
        </div>
        <div className="field">
          <span className="field-label">{t('con.cat.channels')}</span>
          <div className="checks">
            {CHANNELS.map((c) => (
              <label key={c} className="check-chip">
                <input
                  type="checkbox"
                  checked={channels.includes(c)}
                  onChange={(e) =>
                    setChannels(
                      e.target.checked ? [...channels, c] : channels.filter((x) => x !== c),
                    )
                  }
                />
                {channelLabel(i18n, c)}
              </label>
            ))}
          </div>
        </div>
        <label className="check-line field">
          <input
            type="checkbox"
            checked={mandatory}
            onChange={(e) => setMandatory(e.target.checked)}
          />
          <span>
            {t('con.cat.mandatory')}
            <span className="field-hint">{t('con.cat.mandatoryHint')}</span>
          </span>
        </label>
        {missing && <p className="form-error">{t('con.cat.missing')}</p>}
        {error ? <InlineError error={error} /> : null}
        <div className="modal-actions modal-actions-inline">
          <button type="button" className="button" onClick={onClose}>
            {t('con.cancel')}
          </button>
          <button type="submit" className="button button-primary" disabled={busy}>
            {busy ? t('state.saving') : category ? t('con.save') : t('con.create')}
          </button>
        </div>
      </form>
    </Modal>
  );
}
