import { useMemo, useState } from 'react';
import { isApiError } from '../../api/api-error';
import type { Category, Template, TemplateIssue } from '../../api/console-types';
import { ErrorState, InlineError, Loading } from '../../components/states';
import { useI18n } from '../../i18n/i18n-provider';
import { localeName } from '../compose/message-preview';
import { RenderError, RenderedView } from '../compose/rendered-view';
import { templateFields } from '../compose/template-fields';
import { useDebounced } from '../compose/use-debounced';
import { channelLabel } from '../labels';
import { useConsoleApi } from '../operator-session';
import { useResource } from '../use-resource';

type Part = 'subject' | 'title' | 'body';

interface Draft {
  readonly subject: string;
  readonly title: string;
  readonly body: string;
}

/** Which parts a channel's template has: email a subject, most a title, SMS the body only. */
function partsOf(channel: string): readonly Part[] {
  if (channel === 'email') return ['subject', 'body'];
  if (channel === 'sms') return ['body'];
  return ['title', 'body'];
}

const fromTemplate = (t: Template | null): Draft => ({
  subject: t?.subject ?? '',
  title: t?.title ?? '',
  body: t?.body ?? '',
});

/** The problems of a 422 template-invalid answer, else none. */
function issuesOf(error: unknown): TemplateIssue[] {
  if (!isApiError(error, 'template-invalid')) return [];
  const errors = error.problem.errors;
  return Array.isArray(errors) ? (errors as TemplateIssue[]) : [{ message: error.message }];
}

/**
 * One template (category × channel × language): its parts in Liquid, a preview rendered as
 * the operator types (with sample data from the category's latest message), every error
 * with its part, line and column, saving as a new version, and the versions before it.
 */
export function TemplateEditor({
  category,
  channel,
  locale,
  current,
  onSaved,
}: {
  readonly category: Category;
  readonly channel: string;
  readonly locale: string;
  readonly current: Template | null;
  readonly onSaved: () => void;
}) {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const parts = partsOf(channel);
  const [draft, setDraft] = useState<Draft>(() => fromTemplate(current));
  const [base, setBase] = useState<Template | null>(current);
  const [samples, setSamples] = useState<Readonly<Record<string, string>>>({});
  const [saving, setSaving] = useState(false);
  const [saveError, setSaveError] = useState<unknown>(null);
  const [savedVersion, setSavedVersion] = useState<number | null>(null);
  const dirty = JSON.stringify(draft) !== JSON.stringify(fromTemplate(base));

  const versions = useResource(
    `versions:${category.key}/${channel}/${locale}:${base?.version ?? 0}`,
    async () => (base ? (await api.templateVersions(category.key, channel, locale)).items : []),
  );

  // Sample data: the category's latest message, so the preview reads like a real one.
  const latest = useResource(`latest:${category.key}`, async () => {
    const page = await api.messages({ category: category.key, limit: 1 });
    return page.items[0]?.data ?? {};
  });
  const fields = useMemo(
    () =>
      templateFields([
        {
          ...draft,
          category: category.key,
          channel,
          locale,
          version: 0,
          createdAt: '',
        },
      ]),
    [draft, category.key, channel, locale],
  );
  const sampleData = useMemo(() => {
    const data: Record<string, unknown> = {};
    for (const f of fields) {
      const typed = samples[f.name];
      const real = latest.data?.[f.name];
      if (typed !== undefined && typed !== '')
        data[f.name] = f.list ? typed.split('\n').filter(Boolean) : typed;
      else if (real !== undefined) data[f.name] = real;
      else if (!f.optional) data[f.name] = f.list ? [`‹${f.name}›`] : `‹${f.name}›`;
    }
    return data;
  }, [fields, samples, latest.data]);

  const request = {
    data: sampleData,
    recipient: { name: locale.startsWith('zh') ? '龙辉' : 'Leila Sharma' },
    template: {
      body: draft.body,
      ...(parts.includes('subject') ? { subject: draft.subject || null } : {}),
      ...(parts.includes('title') ? { title: draft.title || null } : {}),
    },
  };
  const previewKey = useDebounced(draft.body ? JSON.stringify(request) : '', 400);
  const preview = useResource(
    previewKey ? `tpl-preview:${category.key}/${channel}/${locale}:${previewKey}` : null,
    (signal) =>
      api.previewTemplate(
        category.key,
        channel,
        locale,
        JSON.parse(previewKey) as typeof request,
        signal,
      ),
    { keepPrevious: true },
  );
  const issues = issuesOf(preview.error ?? saveError);
  const badParts = new Set(issues.map((i) => i.part));

  async function save() {
    setSaving(true);
    setSaveError(null);
    setSavedVersion(null);
    try {
      const stored = await api.saveTemplate(category.key, channel, locale, request.template);
      setBase(stored);
      setDraft(fromTemplate(stored));
      setSavedVersion(stored.version);
      onSaved();
    } catch (err) {
      setSaveError(err);
    } finally {
      setSaving(false);
    }
  }

  async function restore(version: number) {
    setSaving(true);
    setSaveError(null);
    try {
      const stored = await api.restoreTemplate(category.key, channel, locale, version);
      setBase(stored);
      setDraft(fromTemplate(stored));
      setSavedVersion(stored.version);
      onSaved();
    } catch (err) {
      setSaveError(err);
    } finally {
      setSaving(false);
    }
  }

  const labels: Record<Part, string> = {
    subject: t('con.tpl.subject'),
    title: t('con.tpl.titlePart'),
    body: t('con.tpl.body'),
  };

  return (
    <section className="card tpl-editor" aria-labelledby="tpl-editor-title">
      <div className="tpl-editor-head">
        <h2 className="card-title" id="tpl-editor-title">
          {i18n.pick(category.name, category.key)} · {channelLabel(i18n, channel)} ·{' '}
          {localeName(locale)}
        </h2>
        <span className="head-meta small">
          {base ? (
            <span className="tag">{t('con.tpl.version', { version: base.version })}</span>
          ) : (
            <span className="tag tag-warn">{t('con.tpl.new')}</span>
          )}
          {dirty && <span className="tag tag-quiet">{t('con.tpl.unsaved')}</span>}
        </span>
      </div>
      <div className="tpl-editor-grid">
        <div>
          {parts.map((part) => (
            <label key={part} className="field">
              <span className="field-label">{labels[part]}</span>
              <textarea
                className="textarea code"
                name={`template.${part}`}
                rows={part === 'body' ? 9 : 2}
                spellCheck={false}
                value={draft[part]}
                aria-invalid={badParts.has(part)}
                onChange={(e) => setDraft({ ...draft, [part]: e.target.value })}
              />
            </label>
          ))}
          <p className="field-hint">{t('con.tpl.syntax')}</p>
          {issues.length > 0 && (
            <ul className="problems" role="alert" data-testid="template-issues">
              {issues.map((issue, i) => (
                <li key={i}>
                  {issue.part && (
                    <strong>
                      {issue.line !== undefined
                        ? t('con.preview.where', {
                            part: labels[issue.part as Part] ?? issue.part,
                            line: issue.line,
                            col: issue.col ?? 1,
                          })
                        : (labels[issue.part as Part] ?? issue.part)}
                      {'：'}
                    </strong>
                  )}
                  {issue.message}
                </li>
              ))}
            </ul>
          )}
          {saveError && issuesOf(saveError).length === 0 ? <InlineError error={saveError} /> : null}
          {savedVersion !== null && !dirty && (
            <p className="ok-note" role="status" data-testid="template-saved">
              {t('con.tpl.saved', { version: savedVersion })}
            </p>
          )}
          <div className="actions-row">
            <button
              type="button"
              className="button button-primary"
              disabled={!dirty || saving || !draft.body.trim()}
              onClick={() => void save()}
            >
              {saving ? t('state.saving') : t('con.tpl.save')}
            </button>
            {dirty && base && (
              <button type="button" className="button" onClick={() => setDraft(fromTemplate(base))}>
                {t('con.tpl.discard')}
              </button>
            )}
          </div>
        </div>
        <div className="tpl-side">
          <h3 className="side-title">{t('con.compose.preview')}</h3>
          {!draft.body.trim() ? (
            <p className="muted">{t('con.tpl.previewEmpty')}</p>
          ) : preview.data && !preview.error ? (
            <div
              className={preview.loading ? 'preview-busy' : undefined}
              data-testid="template-preview"
            >
              <RenderedView channel={channel} rendered={preview.data} />
            </div>
          ) : preview.error && !isApiError(preview.error, 'template-invalid') ? (
            <InlineError error={preview.error} />
          ) : preview.error ? (
            <RenderError
              error={{
                kind: issues[0]?.kind ?? 'parse',
                message: issues[0]?.message ?? '',
                ...(issues[0]?.part ? { part: issues[0].part } : {}),
                ...(issues[0]?.line !== undefined
                  ? { line: issues[0].line, col: issues[0].col ?? 1 }
                  : {}),
              }}
            />
          ) : (
            <Loading />
          )}
          {fields.length > 0 && (
            <details className="samples">
              <summary>{t('con.tpl.samples')}</summary>
              <p className="field-hint">{t('con.tpl.samplesHint')}</p>
              {fields.map((f) => {
                const real = latest.data?.[f.name];
                const shown = Array.isArray(real)
                  ? real.join('\n')
                  : real === undefined
                    ? ''
                    : String(real);
                return (
                  <label key={f.name} className="field">
                    <span className="field-label mono">{f.name}</span>
                    {f.list ? (
                      <textarea
                        className="textarea"
                        rows={3}
                        value={samples[f.name] ?? shown}
                        onChange={(e) => setSamples({ ...samples, [f.name]: e.target.value })}
                      />
                    ) : (
                      <input
                        className="input"
                        value={samples[f.name] ?? shown}
                        onChange={(e) => setSamples({ ...samples, [f.name]: e.target.value })}
                      />
                    )}
                  </label>
                );
              })}
            </details>
          )}
          <h3 className="side-title">{t('con.tpl.versions')}</h3>
          {!base ? (
            <p className="muted">{t('con.tpl.noVersions')}</p>
          ) : versions.data === undefined ? (
            versions.error ? (
              <ErrorState error={versions.error} onRetry={versions.reload} />
            ) : (
              <Loading />
            )
          ) : (
            <ol className="versions" data-testid="versions">
              {versions.data.map((v) => {
                const isCurrent = v.version === base.version;
                return (
                  <li key={v.version} className="version">
                    <div className="version-line">
                      <strong>{t('con.tpl.version', { version: v.version })}</strong>
                      {isCurrent && <span className="tag">{t('con.tpl.current')}</span>}
                      <span className="muted small">{i18n.dateTime(v.createdAt)}</span>
                    </div>
                    <div className="muted small">
                      {v.createdBy?.kind === 'operator'
                        ? t('con.tpl.byOperator', { id: v.createdBy.externalId })
                        : v.createdBy?.kind === 'admin-token'
                          ? t('con.msg.byAdminToken')
                          : t('con.tpl.bySystem')}
                    </div>
                    <div className="version-actions">
                      <button
                        type="button"
                        className="link-button"
                        onClick={() => setDraft(fromTemplate(v))}
                      >
                        {t('con.tpl.load')}
                      </button>
                      {!isCurrent && (
                        <button
                          type="button"
                          className="link-button"
                          disabled={saving}
                          onClick={() => void restore(v.version)}
                        >
                          {t('con.tpl.restore')}
                        </button>
                      )}
                    </div>
                  </li>
                );
              })}
            </ol>
          )}
        </div>
      </div>
    </section>
  );
}
