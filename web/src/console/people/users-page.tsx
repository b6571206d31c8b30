import { useEffect, useState } from 'react';
import { EmptyState, ErrorState, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useI18n } from '../../i18n/i18n-provider';
import { PeopleIcon, SearchIcon } from '../console-icons';
import { roleLabel } from '../labels';
import { useConsoleApi } from '../operator-session';
import { LoadMore, PageHead, SubTabs } from '../ui';
import { usePagedList, useResource } from '../use-resource';
import { UserImport } from './user-import';

export function PeopleTabs() {
  const { t } = useI18n();
  return (
    <SubTabs
      tabs={[
        { to: '/admin/people/users', label: t('con.people.users') },
        { to: '/admin/people/groups', label: t('con.people.groups') },
      ]}
    />
  );
}

/** The user directory: search by name or ID, organisation and role; CSV import. */
export function UsersPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const roles = useResource('roles', async () => (await api.roles()).items);
  const [text, setText] = useState('');
  const [q, setQ] = useState('');
  const [org, setOrg] = useState('');
  const [orgQ, setOrgQ] = useState('');
  const [role, setRole] = useState('');
  useDocumentTitle(`${t('con.people.users')} · ${t('app.console')}`);

  useEffect(() => {
    const timer = setTimeout(() => {
      setQ(text.trim());
      setOrgQ(org.trim());
    }, 350);
    return () => clearTimeout(timer);
  }, [text, org]);

  const search = { q: q || undefined, orgPrefix: orgQ || undefined, role: role || undefined };
  const list = usePagedList(JSON.stringify(search), (cursor) => api.users({ ...search, cursor }));
  const filtered = Boolean(q || orgQ || role);

  return (
    <div className="cpage">
      <PageHead title={t('con.nav.people')} id="people-title" sub={t('con.users.sub')} />
      <PeopleTabs />
      <UserImport onImported={list.reload} />
      <form className="filter-bar" role="search" onSubmit={(e) => e.preventDefault()}>
        <label className="search">
          <SearchIcon size={16} />
          <span className="visually-hidden">{t('con.search')}</span>
          <input
            type="search"
            name="q"
            value={text}
            placeholder={t('con.users.search')}
            onChange={(e) => setText(e.target.value)}
          />
        </label>
        <label className="filter-field">
          {t('con.users.org')}
          <input
            className="input"
            name="orgPrefix"
            value={org}
            placeholder={t('con.users.orgHint')}
            onChange={(e) => setOrg(e.target.value)}
          />
        </label>
        <label className="filter-field">
          {t('con.users.role')}
          <select className="select" value={role} onChange={(e) => setRole(e.target.value)}>
            <option value="">{t('con.all')}</option>
            {roles.data?.map((r) => (
              <option key={r.role} value={r.role}>
                {roleLabel(i18n, r.role)} ({i18n.number(r.count)})
              </option>
            ))}
          </select>
        </label>
      </form>
      {list.loading ? (
        <Loading />
      ) : list.error && list.items.length === 0 ? (
        <ErrorState error={list.error} onRetry={list.reload} />
      ) : list.items.length === 0 ? (
        <div className="card">
          <EmptyState
            icon={filtered ? <SearchIcon size={40} /> : <PeopleIcon size={40} />}
            title={filtered ? t('con.users.noMatch') : t('con.users.empty')}
          >
            {filtered ? t('con.msgs.noMatch.body') : t('con.users.emptyBody')}
          </EmptyState>
        </div>
      ) : (
        <div className="card card-flush">
          <div className="table-wrap">
            <table className="table" data-testid="users-table">
              <thead>
                <tr>
                  <th scope="col">{t('con.users.name')}</th>
                  <th scope="col">{t('con.users.org')}</th>
                  <th scope="col">{t('con.users.role')}</th>
                  <th scope="col">{t('con.users.contacts')}</th>
                  <th scope="col">{t('con.msg.locale')}</th>
                </tr>
              </thead>
              <tbody>
                {list.items.map((u) => (
                  <tr key={u.externalId}>
                    <th scope="row">
                      {u.name}
                      <span className="cell-sub mono">{u.externalId}</span>
                    </th>
                    <td data-label={t('con.users.org')}>{u.orgPath || t('con.none')}</td>
                    <td data-label={t('con.users.role')}>
                      {u.roles.length
                        ? u.roles.map((r) => roleLabel(i18n, r)).join(t('con.listSep'))
                        : t('con.none')}
                    </td>
                    <td data-label={t('con.users.contacts')}>
                      {[u.phone, u.email].filter(Boolean).join(' · ') || t('con.none')}
                    </td>
                    <td data-label={t('con.msg.locale')}>
                      {u.locale} · {u.timezone}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <LoadMore
            hasMore={list.hasMore}
            loading={list.loadingMore}
            onMore={list.loadMore}
            count={list.items.length}
          />
        </div>
      )}
    </div>
  );
}
