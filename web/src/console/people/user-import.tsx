import { useState } from 'react';
import { useI18n } from '../../i18n/i18n-provider';
import { useConsoleApi } from '../operator-session';
import { CsvImport, errorsText } from './csv-import';

const USERS_EXAMPLE =
  'externalId,name,roles,orgPath,phone,email\n2024019901,赵一,undergraduate,农学院/作物学系/2024级9班,13812345678,2024019901@stu.example.edu.cn';

const GROUPS_EXAMPLE =
  'group,member,name\nclass-2024-agronomy-9,2024019901,农学院作物学系2024级9班\nclass-2024-agronomy-9,2024019902,';

/** Users created or updated from the campus systems' CSV (`POST /v1/users/import`). */
export function UserImport({ onImported }: { readonly onImported: () => void }) {
  const { t } = useI18n();
  const api = useConsoleApi();
  return (
    <CsvImport
      openLabel={t('con.import.open')}
      title={t('con.import.title')}
      hint={t('con.import.hint')}
      example={USERS_EXAMPLE}
      onImported={onImported}
      run={async (csv) => {
        const r = await api.importUsers(csv);
        return {
          counts: [
            { label: t('con.import.created', { count: r.created }), tone: 'ok' },
            { label: t('con.import.updated', { count: r.updated }), tone: 'ok' },
            {
              label: t('con.import.failed', { count: r.failed }),
              tone: r.failed ? 'bad' : 'quiet',
            },
          ],
          rows: r.results.map((row) => ({
            row: row.row,
            id: row.externalId ?? '',
            ok: row.status !== 'error',
            status: t(`con.import.status.${row.status}`),
            why: errorsText(row.errors),
          })),
          changed: r.created + r.updated > 0,
        };
      }}
    />
  );
}

/** Class rosters and other static memberships from CSV (`POST /v1/groups/import`). */
export function GroupImport({ onImported }: { readonly onImported: () => void }) {
  const { t } = useI18n();
  const api = useConsoleApi();
  const [mode, setMode] = useState<'replace' | 'add'>('replace');
  return (
    <CsvImport
      openLabel={t('con.gimport.open')}
      title={t('con.gimport.title')}
      hint={t('con.gimport.hint')}
      example={GROUPS_EXAMPLE}
      onImported={onImported}
      options={
        <span className="radio-line">
          <label className="check-chip">
            <input
              type="radio"
              name="mode"
              checked={mode === 'replace'}
              onChange={() => setMode('replace')}
            />
            {t('con.gimport.replace')}
          </label>
          <label className="check-chip">
            <input
              type="radio"
              name="mode"
              checked={mode === 'add'}
              onChange={() => setMode('add')}
            />
            {t('con.gimport.add')}
          </label>
        </span>
      }
      run={async (csv) => {
        const r = await api.importGroups(csv, mode);
        return {
          counts: [
            { label: t('con.gimport.imported', { count: r.imported }), tone: 'ok' },
            {
              label: t('con.import.failed', { count: r.failed }),
              tone: r.failed ? 'bad' : 'quiet',
            },
          ],
          note: r.groups.length
            ? r.groups
                .map((g) =>
                  t('con.gimport.group', {
                    key: g.key,
                    status: t(`con.gimport.status.${g.status}`),
                    count: g.members,
                  }),
                )
                .join(t('con.listSep'))
            : undefined,
          rows: r.results.map((row) => ({
            row: row.row,
            id: `${row.group ?? ''} · ${row.member ?? ''}`,
            ok: row.status === 'ok',
            status: row.status === 'ok' ? t('con.gimport.ok') : t('con.import.status.error'),
            why: errorsText(row.errors),
          })),
          changed: r.imported > 0,
        };
      }}
    />
  );
}
