import { useMemo } from 'react';
import { useSearchParams } from 'react-router';
import { CHANNELS, type Template } from '../../api/console-types';
import { EmptyState, ErrorState, Loading } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { useI18n } from '../../i18n/i18n-provider';
import { LOCALES } from '../../i18n/locale';
import { localeName } from '../compose/message-preview';
import { TemplateIcon } from '../console-icons';
import { channelLabel } from '../labels';
import { useConsoleApi } from '../operator-session';
import { useCategories } from '../reference-data';
import { PageHead } from '../ui';
import { useResource } from '../use-resource';
import { TemplateEditor } from './template-editor';

/**
 * Templates per category × channel × language: a grid of what exists (with its version), and
 * the editor of the one chosen, with a live preview, its errors and its versions.
 */
export function TemplatesPage() {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const categories = useCategories();
  const [params, setParams] = useSearchParams();
  useDocumentTitle(`${t('con.nav.templates')} · ${t('app.console')}`);

  const categoryKey = params.get('category') ?? categories.data?.[0]?.key ?? '';
  const category = categories.data?.find((c) => c.key === categoryKey);
  const templates = useResource(category ? `templates:${category.key}` : null, async () =>
    category ? (await api.templates(category.key)).items : [],
  );
  const channel = params.get('channel');
  const locale = params.get('locale');

  const choose = (next: Record<string, string | null>) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(next)) {
      if (v) p.set(k, v);
      else p.delete(k);
    }
    setParams(p, { replace: true });
  };

  const grid = useMemo(() => {
    const list = templates.data ?? [];
    const channels = CHANNELS.filter(
      (c) => category?.defaultChannels.includes(c) || list.some((x) => x.channel === c),
    );
    const locales = [
      ...LOCALES,
      ...new Set(
        list.map((x) => x.locale).filter((l) => !(LOCALES as readonly string[]).includes(l)),
      ),
    ];
    const at = (c: string, l: string): Template | undefined =>
      list.find((x) => x.channel === c && x.locale === l);
    return { channels, locales, at };
  }, [templates.data, category]);
  const others = CHANNELS.filter((c) => !grid.channels.includes(c));

  if (categories.data === undefined)
    return (
      <div className="cpage">
        {categories.error ? (
          <ErrorState error={categories.error} onRetry={categories.reload} />
        ) : (
          <Loading />
        )}
      </div>
    );

  return (
    <div className="cpage">
      <PageHead title={t('con.nav.templates')} id="templates-title" sub={t('con.tpl.sub')} />
      {categories.data.length === 0 ? (
        <div className="card">
          <EmptyState icon={<TemplateIcon size={40} />} title={t('con.tpl.noCategories')}>
            {t('con.tpl.noCategoriesBody')}
          </EmptyState>
        </div>
      ) : (
        <>
          <div className="filter-bar">
            <label className="filter-field filter-field-wide">
              {t('con.msgs.category')}
              <select
                className="select"
                name="category"
                value={categoryKey}
                onChange={(e) => choose({ category: e.target.value, channel: null, locale: null })}
              >
                {categories.data.map((c) => (
                  <option key={c.key} value={c.key}>
                    {i18n.pick(c.name, c.key)}（{c.key}）
                  </option>
                ))}
              </select>
            </label>
          </div>
          <section className="card">
            <h2 className="card-title">{t('con.tpl.grid')}</h2>
            <p className="card-hint">{t('con.tpl.gridHint')}</p>
            {templates.data === undefined ? (
              templates.error ? (
                <ErrorState error={templates.error} onRetry={templates.reload} />
              ) : (
                <Loading />
              )
            ) : (
              <div className="tpl-grid-wrap">
                <table className="tpl-grid" data-testid="template-grid">
                  <thead>
                    <tr>
                      <th scope="col">{t('con.dash.channel')}</th>
                      {grid.locales.map((l) => (
                        <th key={l} scope="col">
                          {localeName(l)}
                        </th>
                      ))}
                    </tr>
                  </thead>
                  <tbody>
                    {grid.channels.map((c) => (
                      <tr key={c}>
                        <th scope="row">{channelLabel(i18n, c)}</th>
                        {grid.locales.map((l) => {
                          const tpl = grid.at(c, l);
                          const selected = c === channel && l === locale;
                          return (
                            <td key={l}>
                              <button
                                type="button"
                                className={`tpl-cell${tpl ? ' has' : ''}${selected ? ' selected' : ''}`}
                                aria-pressed={selected}
                                data-cell={`${c}/${l}`}
                                onClick={() => choose({ channel: c, locale: l })}
                              >
                                {tpl
                                  ? t('con.tpl.version', { version: tpl.version })
                                  : t('con.tpl.missing')}
                              </button>
                            </td>
                          );
                        })}
                      </tr>
                    ))}
                  </tbody>
                </table>
                {others.length > 0 && (
                  <label className="filter-field tpl-add">
                    {t('con.tpl.addChannel')}
                    <select
                      className="select"
                      value=""
                      onChange={(e) =>
                        e.target.value && choose({ channel: e.target.value, locale: LOCALES[0] })
                      }
                    >
                      <option value="">{t('con.tpl.pickChannel')}</option>
                      {others.map((c) => (
                        <option key={c} value={c}>
                          {channelLabel(i18n, c)}
                        </option>
                      ))}
                    </select>
                  </label>
                )}
              </div>
            )}
          </section>
          {category && channel && locale && templates.data ? (
            <TemplateEditor
              key={`${category.key}/${channel}/${locale}`}
              category={category}
              channel={channel}
              locale={locale}
              current={grid.at(channel, locale) ?? null}
              onSaved={templates.reload}
            />
          ) : (
            templates.data && <p className="muted tpl-pick">{t('con.tpl.pick')}</p>
          )}
        </>
      )}
    </div>
  );
}
