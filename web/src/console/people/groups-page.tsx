import { useState, type FormEvent } from 'react';
import type { AudienceFilter, Group } from '../../api/console-types';
import { EmptyState, ErrorState, InlineError, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useI18n } from '../../i18n/i18n-provider';
import { ConfirmDelete } from '../confirm-delete';
import { parseIds } from '../compose/audience-builder';
import { OrgTreePicker } from '../compose/org-tree-picker';
import { PeopleIcon, PlusIcon } from '../console-icons';
import { roleLabel } from '../labels';
import { useConsoleApi } from '../operator-session';
import { LoadMore, Modal, PageHead } from '../ui';
import { usePagedList, useResource } from '../use-resource';
import { GroupImport } from './user-import';
import { PeopleTabs } from './users-page';

/** A dynamic group's rule in words. */
function filterText(
  filter: AudienceFilter,
  t: ReturnType<typeof useI18n>['t'],
  roles: (r: string) => string,
) {
  const parts: string[] = [];
  if (filter.orgPrefix) parts.push(filter.orgPrefix);
  if (filter.orgPrefixes?.length) parts.push(filter.orgPrefixes.join(t('con.listSep')));
  if (filter.roles?.length)
    parts.push(t('con.aud.rolesText', { list: filter.roles.map(roles).join(t('con.listSep')) }));
  if (filter.attributes)
    parts.push(
      Object.entries(filter.attributes)
        .map(([k, v]) => `${k} = ${v}`)
        .join(t('con.listSep')),
    );
  return parts.join(' · ');
}

/** Groups audiences name: fixed lists of people, or rules over organisation, roles, attributes. */
export function GroupsPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const groups = useResource('groups', async () => (await api.groups()).items);
  const [open, setOpen] = useState<string | null>(null);
  const [creating, setCreating] = useState(false);
  const [deleting, setDeleting] = useState<Group | null>(null);
  const [deleted, setDeleted] = useState<Group | null>(null);
  // Not shown while the list is asked again after it was deleted.
  const listed = groups.data?.filter((g) => g.key !== deleted?.key) ?? [];
  useDocumentTitle(`${t('con.people.groups')} · ${t('app.console')}`);

  return (
    <div className="cpage">
      <PageHead
        title={t('con.nav.people')}
        id="people-title"
        sub={t('con.groups.sub')}
        actions={
          <button
            type="button"
            className="button button-primary button-small"
            onClick={() => setCreating(true)}
          >
            <PlusIcon size={16} />
            {t('con.groups.new')}
          </button>
        }
      />
      <PeopleTabs />
      {deleted && (
        <p className="ok-note" role="status" data-testid="deleted-note">
          {t('con.groups.deleted', { name: deleted.name, key: deleted.key })}
        </p>
      )}
      <GroupImport
        onImported={() => {
          setDeleted(null);
          groups.reload();
        }}
      />
      {groups.data === undefined ? (
        groups.error ? (
          <ErrorState error={groups.error} onRetry={groups.reload} />
        ) : (
          <Loading />
        )
      ) : listed.length === 0 ? (
        <div className="card">
          <EmptyState icon={<PeopleIcon size={40} />} title={t('con.groups.empty')}>
            {t('con.groups.emptyBody')}
          </EmptyState>
        </div>
      ) : (
        <ul className="group-list" data-testid="groups">
          {listed.map((g) => (
            <li key={g.key} className="card group">
              <div className="group-head">
                <div>
                  <div className="group-name">{g.name}</div>
                  <div className="muted small mono">{g.key}</div>
                </div>
                <div className="group-count">
                  <strong>{t('con.aud.members', { count: g.memberCount })}</strong>
                  <span className="muted small">
                    {g.kind === 'dynamic'
                      ? t('con.groups.dynamic', {
                          rule: g.filter ? filterText(g.filter, t, (r) => roleLabel(i18n, r)) : '',
                        })
                      : t('con.groups.static')}
                  </span>
                </div>
              </div>
              <button
                type="button"
                className="disclosure"
                aria-expanded={open === g.key}
                onClick={() => setOpen(open === g.key ? null : g.key)}
              >
                {t('con.groups.members')}
              </button>
              {open === g.key && (
                <>
                  <Members group={g} />
                  <div className="item-danger">
                    <button
                      type="button"
                      className="button button-small button-danger"
                      onClick={() => setDeleting(g)}
                    >
                      {t('con.groups.delete')}
                    </button>
                  </div>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      {deleting && (
        <ConfirmDelete
          title={t('con.groups.deleteTitle')}
          name={deleting.name}
          itemKey={deleting.key}
          consequences={[
            t('con.groups.deleteMembers', { count: deleting.memberCount }),
            t('con.groups.deleteScheduled'),
            t('con.groups.deleteSent'),
          ]}
          onDelete={() => api.deleteGroup(deleting.key)}
          onDeleted={() => {
            setDeleted(deleting);
            setDeleting(null);
            setOpen(null);
            groups.reload();
          }}
          onClose={() => setDeleting(null)}
        />
      )}
      {creating && (
        <NewGroup
          onClose={() => setCreating(false)}
          onCreated={() => {
            setCreating(false);
            setDeleted(null);
            groups.reload();
          }}
        />
      )}
    </div>
  );
}

function Members({ group }: { readonly group: Group }) {
  const { t } = useI18n();
  const api = useConsoleApi();
  const list = usePagedList(`members:${group.key}`, (cursor) =>
    api.groupMembers(group.key, cursor),
  );
  if (list.loading) return <Loading />;
  if (list.error && list.items.length === 0)
    return <ErrorState error={list.error} onRetry={list.reload} />;
  if (list.items.length === 0) return <p className="muted small">{t('con.groups.noMembers')}</p>;
  return (
    <>
      <ul className="members">
        {list.items.map((u) => (
          <li key={u.externalId}>
            {u.name} <span className="muted small mono">{u.externalId}</span>
            {u.orgPath && <span className="muted small"> · {u.orgPath}</span>}
          </li>
        ))}
      </ul>
      <LoadMore
        hasMore={list.hasMore}
        loading={list.loadingMore}
        onMore={list.loadMore}
        count={list.items.length}
      />
    </>
  );
}

function NewGroup({
  onClose,
  onCreated,
}: {
  readonly onClose: () => void;
  readonly onCreated: () => void;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const roles = useResource('roles', async () => (await api.roles()).items);
  const [key, setKey] = useState('');
  const [name, setName] = useState('');
  const [kind, setKind] = useState<'static' | 'dynamic'>('static');
  const [members, setMembers] = useState('');
  const [orgPaths, setOrgPaths] = useState<readonly string[]>([]);
  const [chosenRoles, setChosenRoles] = useState<readonly string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [missing, setMissing] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    const ids = parseIds(members);
    const rule = kind === 'dynamic' && (orgPaths.length > 0 || chosenRoles.length > 0);
    if (!key.trim() || !name.trim() || (kind === 'dynamic' && !rule)) {
      setMissing(true);
      return;
    }
    setMissing(false);
    setBusy(true);
    setError(null);
    try {
      await api.createGroup(
        kind === 'static'
          ? { key: key.trim(), name: name.trim(), members: ids }
          : {
              key: key.trim(),
              name: name.trim(),
              filter: {
                ...(orgPaths.length ? { orgPrefixes: [...orgPaths] } : {}),
                ...(chosenRoles.length ? { roles: [...chosenRoles] } : {}),
              },
            },
      );
      onCreated();
    } catch (err) {
      setError(err);
      setBusy(false);
    }
  }

  return (
    <Modal title={t('con.groups.new')} onClose={onClose}>
      <form onSubmit={(e) => void submit(e)} noValidate className="modal-form">
        <div className="form-grid">
          <label className="field">
            <span className="field-label">{t('con.src.key')}</span>
            <input
              className="input mono"
              name="key"
              value={key}
              placeholder="thesis-2025"
              onChange={(e) => setKey(e.target.value)}
            />
          </label>
          <label className="field">
            <span className="field-label">{t('con.src.name')}</span>
            <input
              className="input"
              name="name"
              value={name}
              onChange={(e) => setName(e.target.value)}
            />
          </label>
        </div>
        <div className="field">
          <span className="field-label">{t('con.groups.kind')}</span>
          <div className="radio-line">
            <label className="check-chip">
              <input
                type="radio"
                name="kind"
                checked={kind === 'static'}
                onChange={() => setKind('static')}
              />
              {t('con.groups.static')}
            </label>
            <label className="check-chip">
              <input
                type="radio"
                name="kind"
                checked={kind === 'dynamic'}
                onChange={() => setKind('dynamic')}
              />
              {t('con.aud.dynamic')}
            </label>
          </div>
        </div>
        {kind === 'static' ? (
          <label className="field">
            <span className="field-label">{t('con.groups.memberIds')}</span>
            <textarea
              className="textarea"
              rows={4}
              value={members}
              onChange={(e) => setMembers(e.target.value)}
            />
            <span className="field-hint">{t('con.aud.idsHint')}</span>
          </label>
        ) : (
          <>
            <div className="field">
              <span className="field-label">{t('con.users.org')}</span>
              <span className="field-hint">{t('con.groups.orgHint')}</span>
              <OrgTreePicker value={orgPaths} onChange={setOrgPaths} />
            </div>
            <div className="field">
              <span className="field-label">{t('con.users.role')}</span>
              <div className="checks">
                {roles.data?.map((r) => (
                  <label key={r.role} className="check-chip">
                    <input
                      type="checkbox"
                      checked={chosenRoles.includes(r.role)}
                      onChange={(e) =>
                        setChosenRoles(
                          e.target.checked
                            ? [...chosenRoles, r.role]
                            : chosenRoles.filter((x) => x !== r.role),
                        )
                      }
                    />
                    {roleLabel(i18n, r.role)}
                  </label>
                ))}
              </div>
            </div>
          </>
        )}
        {missing && <p className="form-error">{t('con.groups.missing')}</p>}
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
