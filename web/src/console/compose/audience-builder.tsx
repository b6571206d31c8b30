import { useMemo, useState } from 'react';
import type { Audience } from '../../api/console-types';
import { ErrorState, Loading } from '../../components/states';
import { useI18n } from '../../i18n/i18n-provider';
import { CloseIcon, SearchIcon } from '../console-icons';
import { roleLabel } from '../labels';
import { useConsoleApi } from '../operator-session';
import { useResource } from '../use-resource';
import { OrgTreePicker } from './org-tree-picker';

export interface AudienceDraft {
  readonly groups: readonly string[];
  /**
   * Units of the org tree (the filter's orgPrefixes): people at or below any of them, each
   * once. None inside another chosen one (choosing a unit drops the chosen units below it).
   */
  readonly orgPaths: readonly string[];
  /** Roles (any of); with org units, the people of those units having one of them. */
  readonly roles: readonly string[];
  /** External ids as typed: separated by spaces, commas or lines. */
  readonly ids: string;
  readonly all: boolean;
}

export const EMPTY_AUDIENCE: AudienceDraft = {
  groups: [],
  orgPaths: [],
  roles: [],
  ids: '',
  all: false,
};

export function parseIds(text: string): string[] {
  return [...new Set(text.split(/[\s,，;；、]+/).filter(Boolean))];
}

/** The draft as the `to` of a send; null when it selects nobody yet. */
export function toAudience(d: AudienceDraft): Audience | null {
  const users = parseIds(d.ids);
  const filter =
    d.orgPaths.length || d.roles.length
      ? {
          ...(d.orgPaths.length ? { orgPrefixes: [...d.orgPaths] } : {}),
          ...(d.roles.length ? { roles: [...d.roles] } : {}),
        }
      : undefined;
  const to: Audience = {
    ...(users.length ? { users } : {}),
    ...(d.groups.length ? { groups: [...d.groups] } : {}),
    ...(filter ? { filter } : {}),
    ...(d.all ? { all: true } : {}),
  };
  return Object.keys(to).length ? to : null;
}

type Tab = 'groups' | 'org' | 'roles' | 'ids';

/**
 * Who receives the message: groups, units of the org tree, roles, explicit 学号/工号, or
 * everyone. The parts add up (anyone selected by one part receives it, once); roles narrow the
 * org units when both are chosen, as Herald's filter does.
 */
export function AudienceBuilder({
  value,
  onChange,
}: {
  readonly value: AudienceDraft;
  readonly onChange: (next: AudienceDraft) => void;
}) {
  const { t } = useI18n();
  const [tab, setTab] = useState<Tab>('org');
  const ids = parseIds(value.ids);
  const tabs: { id: Tab; label: string; count: number }[] = [
    { id: 'org', label: t('con.aud.tab.org'), count: value.orgPaths.length },
    { id: 'groups', label: t('con.aud.tab.groups'), count: value.groups.length },
    { id: 'roles', label: t('con.aud.tab.roles'), count: value.roles.length },
    { id: 'ids', label: t('con.aud.tab.ids'), count: ids.length },
  ];
  return (
    <div className="audience-builder">
      <Chosen value={value} onChange={onChange} />
      <div className="seg-tabs" role="tablist" aria-label={t('con.compose.audience')}>
        {tabs.map((x) => (
          <button
            key={x.id}
            type="button"
            role="tab"
            id={`aud-tab-${x.id}`}
            aria-selected={tab === x.id}
            aria-controls={`aud-panel-${x.id}`}
            className="seg-tab"
            onClick={() => setTab(x.id)}
          >
            {x.label}
            {x.count > 0 && <span className="seg-count">{x.count}</span>}
          </button>
        ))}
      </div>
      <div role="tabpanel" id={`aud-panel-${tab}`} aria-labelledby={`aud-tab-${tab}`}>
        {tab === 'org' && (
          <>
            <p className="field-hint">{t('con.aud.orgHint')}</p>
            <OrgTreePicker
              value={value.orgPaths}
              onChange={(orgPaths) => onChange({ ...value, orgPaths })}
            />
          </>
        )}
        {tab === 'groups' && (
          <GroupsPicker
            value={value.groups}
            onChange={(groups) => onChange({ ...value, groups })}
          />
        )}
        {tab === 'roles' && (
          <RolesPicker value={value.roles} onChange={(roles) => onChange({ ...value, roles })} />
        )}
        {tab === 'ids' && (
          <label className="field">
            <span className="field-hint">{t('con.aud.idsHint')}</span>
            <textarea
              className="textarea"
              name="ids"
              rows={4}
              value={value.ids}
              placeholder="2024010101, T1001"
              onChange={(e) => onChange({ ...value, ids: e.target.value })}
            />
          </label>
        )}
      </div>
      <label className="check-line everyone">
        <input
          type="checkbox"
          checked={value.all}
          onChange={(e) => onChange({ ...value, all: e.target.checked })}
        />
        <span>
          <strong>{t('con.aud.everyone')}</strong>
          <span className="field-hint">{t('con.aud.everyoneHint')}</span>
        </span>
      </label>
    </div>
  );
}

/** What is chosen so far, as removable chips. */
function Chosen({
  value,
  onChange,
}: {
  readonly value: AudienceDraft;
  readonly onChange: (next: AudienceDraft) => void;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const chips: { key: string; label: string; remove: () => void }[] = [];
  for (const path of value.orgPaths)
    chips.push({
      key: `o:${path}`,
      label: path,
      remove: () => onChange({ ...value, orgPaths: value.orgPaths.filter((x) => x !== path) }),
    });
  for (const g of value.groups)
    chips.push({
      key: `g:${g}`,
      label: t('con.aud.groupChip', { key: g }),
      remove: () => onChange({ ...value, groups: value.groups.filter((x) => x !== g) }),
    });
  for (const r of value.roles)
    chips.push({
      key: `r:${r}`,
      label: roleLabel(i18n, r),
      remove: () => onChange({ ...value, roles: value.roles.filter((x) => x !== r) }),
    });
  const ids = parseIds(value.ids);
  if (ids.length)
    chips.push({
      key: 'ids',
      label: t('con.aud.idsChip', { count: ids.length }),
      remove: () => onChange({ ...value, ids: '' }),
    });
  if (value.all)
    chips.push({
      key: 'all',
      label: t('con.aud.everyone'),
      remove: () => onChange({ ...value, all: false }),
    });
  if (chips.length === 0) return <p className="muted small chosen-none">{t('con.aud.nothing')}</p>;
  return (
    <ul className="chips" data-testid="audience-chips">
      {chips.map((c) => (
        <li key={c.key} className="chip">
          <span>{c.label}</span>
          <button
            type="button"
            aria-label={t('con.aud.remove', { name: c.label })}
            title={t('con.aud.remove', { name: c.label })}
            onClick={c.remove}
          >
            <CloseIcon size={14} />
          </button>
        </li>
      ))}
    </ul>
  );
}

function GroupsPicker({
  value,
  onChange,
}: {
  readonly value: readonly string[];
  readonly onChange: (groups: readonly string[]) => void;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const groups = useResource('groups', async () => (await api.groups()).items);
  const [text, setText] = useState('');
  const query = text.trim().toLowerCase();
  const shown = useMemo(
    () =>
      (groups.data ?? []).filter(
        (g) =>
          !query || g.key.toLowerCase().includes(query) || g.name.toLowerCase().includes(query),
      ),
    [groups.data, query],
  );
  if (groups.data === undefined)
    return groups.error ? <ErrorState error={groups.error} onRetry={groups.reload} /> : <Loading />;
  if (groups.data.length === 0) return <p className="muted">{t('con.aud.groupsEmpty')}</p>;
  return (
    <div>
      <div className="search search-small">
        <SearchIcon size={16} />
        <input
          type="search"
          value={text}
          placeholder={t('con.aud.groupSearch')}
          aria-label={t('con.aud.groupSearch')}
          onChange={(e) => setText(e.target.value)}
        />
      </div>
      <ul className="pick-list">
        {shown.map((g) => (
          <li key={g.key}>
            <label className="pick">
              <input
                type="checkbox"
                name="group"
                value={g.key}
                checked={value.includes(g.key)}
                onChange={(e) =>
                  onChange(e.target.checked ? [...value, g.key] : value.filter((x) => x !== g.key))
                }
              />
              <span className="pick-text">
                <span className="pick-name">{g.name}</span>
                <span className="muted small mono">{g.key}</span>
              </span>
              <span className="pick-count">
                {t('con.aud.members', { count: g.memberCount })}
                <span className="muted small">
                  {g.kind === 'dynamic' ? t('con.aud.dynamic') : t('con.aud.static')}
                </span>
              </span>
            </label>
          </li>
        ))}
        {shown.length === 0 && <li className="muted small">{t('con.aud.groupNoMatch')}</li>}
      </ul>
    </div>
  );
}

function RolesPicker({
  value,
  onChange,
}: {
  readonly value: readonly string[];
  readonly onChange: (roles: readonly string[]) => void;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const roles = useResource('roles', async () => (await api.roles()).items);
  if (roles.data === undefined)
    return roles.error ? <ErrorState error={roles.error} onRetry={roles.reload} /> : <Loading />;
  return (
    <>
      <p className="field-hint">{t('con.aud.rolesHint')}</p>
      <div className="checks">
        {roles.data.map((r) => (
          <label key={r.role} className="check-chip">
            <input
              type="checkbox"
              name="role"
              value={r.role}
              checked={value.includes(r.role)}
              onChange={(e) =>
                onChange(e.target.checked ? [...value, r.role] : value.filter((x) => x !== r.role))
              }
            />
            {roleLabel(i18n, r.role)}
            <span className="muted">{i18n.number(r.count)}</span>
          </label>
        ))}
      </div>
    </>
  );
}

/** The chosen audience in words, part by part: what the confirmation shows before sending. */
export function AudienceSummary({ value }: { readonly value: AudienceDraft }) {
  const i18n = useI18n();
  const { t } = i18n;
  const ids = parseIds(value.ids);
  const sep = t('con.listSep');
  return (
    <dl className="aud-summary" data-testid="confirm-audience">
      {value.all && (
        <div>
          <dt>{t('con.aud.everyone')}</dt>
          <dd>{t('con.aud.everyoneHint')}</dd>
        </div>
      )}
      {value.orgPaths.length > 0 && (
        <div>
          <dt>{t('con.aud.units', { count: value.orgPaths.length })}</dt>
          <dd>
            <ul className="aud-units">
              {value.orgPaths.map((path) => (
                <li key={path}>{path}</li>
              ))}
            </ul>
          </dd>
        </div>
      )}
      {value.roles.length > 0 && (
        <div>
          <dt>{t('con.aud.tab.roles')}</dt>
          <dd>
            {value.roles.map((r) => roleLabel(i18n, r)).join(sep)}
            {value.orgPaths.length > 0 && (
              <div className="muted small">{t('con.aud.rolesNarrow')}</div>
            )}
          </dd>
        </div>
      )}
      {value.groups.length > 0 && (
        <div>
          <dt>{t('con.aud.tab.groups')}</dt>
          <dd>{value.groups.join(sep)}</dd>
        </div>
      )}
      {ids.length > 0 && (
        <div>
          <dt>{t('con.aud.tab.ids')}</dt>
          <dd>{ids.length <= 5 ? ids.join(sep) : t('con.aud.idsChip', { count: ids.length })}</dd>
        </div>
      )}
    </dl>
  );
}
