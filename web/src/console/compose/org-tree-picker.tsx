import { useMemo, useState } from 'react';
import type { OrgNode } from '../../api/console-types';
import { ErrorState, Loading } from '../../components/states';
import { useI18n } from '../../i18n/i18n-provider';
import { ChevronIcon, SearchIcon } from '../console-icons';
import { useConsoleApi } from '../operator-session';
import { useResource } from '../use-resource';

/** Nodes whose name or path contains `text`, with the ancestors that lead to them. */
function matching(nodes: readonly OrgNode[], text: string): OrgNode[] {
  const out: OrgNode[] = [];
  for (const node of nodes) {
    const children = matching(node.children, text);
    if (node.path.toLowerCase().includes(text) || children.length > 0)
      out.push({ ...node, children: children.length > 0 ? children : node.children });
  }
  return out;
}

/** Whether `path` is `unit` or below it ("农学院" holds "农学院/作物学系", not "农学院二部"). */
const within = (path: string, unit: string) => path === unit || path.startsWith(`${unit}/`);

/**
 * The units with `path` ticked or unticked. Ticking a unit drops the chosen units below it (it
 * holds them already), so no chosen unit is ever inside another.
 */
export function toggleUnit(
  chosen: readonly string[],
  path: string,
  on: boolean,
): readonly string[] {
  const rest = chosen.filter((p) => (on ? !within(p, path) : p !== path));
  return on ? [...rest, path] : rest;
}

/**
 * The organisation as a tree (学院 → 系 → 班级, offices), each unit with how many people are at
 * it or below it. Any number of units are ticked (Herald's filter.orgPrefixes): everyone at or
 * below any of them receives the message, once. A unit inside a ticked one shows as included.
 */
export function OrgTreePicker({
  value,
  onChange,
}: {
  readonly value: readonly string[];
  readonly onChange: (paths: readonly string[]) => void;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const tree = useResource('org-tree', () => api.orgTree());
  const [text, setText] = useState('');
  const [open, setOpen] = useState<ReadonlySet<string>>(() => new Set());
  const query = text.trim().toLowerCase();
  const nodes = useMemo(
    () => (tree.data ? (query ? matching(tree.data.nodes, query) : tree.data.nodes) : []),
    [tree.data, query],
  );

  if (tree.data === undefined)
    return tree.error ? <ErrorState error={tree.error} onRetry={tree.reload} /> : <Loading />;
  if (tree.data.nodes.length === 0) return <p className="muted">{t('con.aud.orgEmpty')}</p>;

  const toggle = (path: string) => {
    const next = new Set(open);
    if (next.has(path)) next.delete(path);
    else next.add(path);
    setOpen(next);
  };

  const render = (list: readonly OrgNode[], depth: number) => (
    <ul
      className="tree"
      role={depth === 0 ? 'tree' : 'group'}
      aria-multiselectable={depth === 0 ? true : undefined}
    >
      {list.map((node) => {
        const expanded =
          query !== '' || open.has(node.path) || value.some((p) => p.startsWith(`${node.path}/`));
        const selected = value.includes(node.path);
        // Ticked through a chosen unit above it: shown ticked, and untick that unit instead.
        const holder = selected ? undefined : value.find((p) => within(node.path, p));
        const covered = holder !== undefined;
        return (
          <li
            key={node.path}
            role="treeitem"
            aria-expanded={node.children.length > 0 ? expanded : undefined}
            aria-selected={selected || covered}
          >
            <div
              className={`tree-row${selected ? ' selected' : ''}${covered ? ' covered' : ''}`}
              title={covered ? t('con.aud.covered', { unit: holder }) : undefined}
            >
              {node.children.length > 0 ? (
                <button
                  type="button"
                  className="tree-toggle"
                  aria-label={expanded ? t('con.aud.collapse') : t('con.aud.expand')}
                  onClick={() => toggle(node.path)}
                >
                  <ChevronIcon size={16} className={expanded ? 'open' : undefined} />
                </button>
              ) : (
                <span className="tree-toggle" aria-hidden="true" />
              )}
              <label className="tree-label">
                <input
                  type="checkbox"
                  name="org-unit"
                  value={node.path}
                  checked={selected || covered}
                  disabled={covered}
                  onChange={(e) => onChange(toggleUnit(value, node.path, e.target.checked))}
                />
                <span className="tree-name">{node.name}</span>
                {covered && <span className="tree-note">{t('con.aud.included')}</span>}
                <span className="tree-count">{i18n.number(node.count)}</span>
              </label>
            </div>
            {expanded && node.children.length > 0 && render(node.children, depth + 1)}
          </li>
        );
      })}
    </ul>
  );

  return (
    <div className="org-picker">
      {value.length > 0 && (
        <p className="org-chosen small" data-testid="org-chosen">
          <span>{t('con.aud.orgChosen', { count: value.length })}</span>
          <button type="button" className="link-button" onClick={() => onChange([])}>
            {t('con.clear')}
          </button>
        </p>
      )}
      <div className="search search-small">
        <SearchIcon size={16} />
        <input
          type="search"
          value={text}
          placeholder={t('con.aud.orgSearch')}
          aria-label={t('con.aud.orgSearch')}
          onChange={(e) => setText(e.target.value)}
        />
      </div>
      <div className="tree-box">
        {nodes.length === 0 ? (
          <p className="muted small">{t('con.aud.orgNoMatch')}</p>
        ) : (
          render(nodes, 0)
        )}
      </div>
    </div>
  );
}
