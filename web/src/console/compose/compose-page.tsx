import { useMemo, useState } from 'react';
import { useNavigate, useSearchParams } from 'react-router';
import { CHANNELS, type Category, type SendRequest } from '../../api/console-types';
import { InlineError } from '../../components/states';
import { useDocumentTitle } from '../../components/use-document-title';
import { dateTimeInputInstant, dateTimeInputValue } from '../../i18n/format-time';
import { useI18n } from '../../i18n/i18n-provider';
import { LOCALES, LOCALE_NAMES } from '../../i18n/locale';
import { SendIcon } from '../console-icons';
import { channelLabel, priorityLabel } from '../labels';
import { useConsoleApi } from '../operator-session';
import { useCategories, useSources } from '../reference-data';
import { Modal, PageHead } from '../ui';
import { useResource } from '../use-resource';
import {
  AudienceBuilder,
  AudienceSummary,
  EMPTY_AUDIENCE,
  toAudience,
  type AudienceDraft,
} from './audience-builder';
import { AudienceCount } from './audience-count';
import { MessagePreview } from './message-preview';
import { newRequestKey } from './request-key';
import { dataFromForm, templateFields, type DataField } from './template-fields';
import { useDebounced } from './use-debounced';

const sameSet = (a: readonly string[], b: readonly string[]) =>
  a.length === b.length && a.every((x) => b.includes(x));

/**
 * Compose and send as a source: category and source, the audience (with its recipient count
 * before sending), the template data the category's templates need, a preview per channel
 * and language, now or at a chosen time.
 */
export function ComposePage() {
  const i18n = useI18n();
  const { t } = i18n;
  const api = useConsoleApi();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const categories = useCategories();
  const sources = useSources();
  useDocumentTitle(`${t('con.compose.title')} · ${t('app.console')}`);

  const [sourceKey, setSourceKey] = useState(params.get('source') ?? '');
  const [categoryKey, setCategoryKey] = useState(params.get('category') ?? '');
  const [audience, setAudience] = useState<AudienceDraft>(EMPTY_AUDIENCE);
  const [values, setValues] = useState<Readonly<Record<string, string>>>({});
  const [url, setUrl] = useState('');
  const [channelChoice, setChannelChoice] = useState<readonly string[] | null>(null);
  const [locale, setLocale] = useState('');
  const [when, setWhen] = useState<'now' | 'later'>('now');
  const [sendAt, setSendAt] = useState('');
  const [tried, setTried] = useState(false);
  const [confirm, setConfirm] = useState<{ readonly key: string } | null>(null);
  const [sending, setSending] = useState(false);
  const [sendError, setSendError] = useState<unknown>(null);

  const source = sources.data?.find((s) => s.key === sourceKey);
  const allowed = useMemo(
    () => (categories.data ?? []).filter((c) => !source || source.categories.includes(c.key)),
    [categories.data, source],
  );
  const category: Category | undefined = allowed.find((c) => c.key === categoryKey);

  const templates = useResource(category ? `templates:${category.key}` : null, async () =>
    category ? (await api.templates(category.key)).items : [],
  );
  const fields: readonly DataField[] = useMemo(
    () => templateFields(templates.data ?? []),
    [templates.data],
  );
  const defaultChannels = category?.defaultChannels ?? [];
  const channels = channelChoice ?? defaultChannels;
  const channelsOverride =
    channelChoice && !sameSet(channelChoice, defaultChannels) ? channelChoice : undefined;
  const data = dataFromForm(fields, values, url);

  // The audience's count, asked again a moment after each change.
  const to = toAudience(audience);
  const toKey = useDebounced(to ? JSON.stringify(to) : '', 350);
  const audiencePreview = useResource(
    toKey ? `audience:${toKey}` : null,
    () => api.audiencePreview(JSON.parse(toKey) as NonNullable<typeof to>),
    { keepPrevious: true },
  );
  const counted = to !== null && toKey === JSON.stringify(to) ? audiencePreview.data : undefined;

  // The preview, rendered again a moment after each change of the content.
  const previewBody = category
    ? {
        category: category.key,
        ...(source ? { source: source.key } : {}),
        data,
        ...(channels.length ? { channels } : {}),
        ...(locale ? { locale } : {}),
      }
    : null;
  const previewKey = useDebounced(previewBody ? JSON.stringify(previewBody) : '', 450);
  const preview = useResource(
    previewKey ? `preview:${previewKey}` : null,
    () => api.previewMessage(JSON.parse(previewKey) as NonNullable<typeof previewBody>),
    { keepPrevious: true },
  );

  const scheduled = when === 'later' ? dateTimeInputInstant(sendAt, i18n.timeZone) : null;
  const problems: string[] = [];
  if (!source) problems.push(t('con.compose.needSource'));
  if (!category) problems.push(t('con.compose.needCategory'));
  if (!to) problems.push(t('con.compose.needAudience'));
  else if (counted && counted.unknownUsers.length + counted.unknownGroups.length > 0)
    problems.push(t('con.compose.fixUnknown'));
  else if (counted && counted.count === 0) problems.push(t('con.compose.audienceEmpty'));
  const missing = fields.filter((f) => !f.optional && !(values[f.name] ?? '').trim());
  for (const f of missing) problems.push(t('con.compose.needField', { name: f.name }));
  if (channels.length === 0) problems.push(t('con.compose.needChannel'));
  if (when === 'later' && (!scheduled || scheduled.getTime() <= Date.now()))
    problems.push(t('con.compose.needTime'));

  const request: SendRequest | null =
    source && category && to
      ? {
          source: source.key,
          category: category.key,
          to,
          data,
          ...(channelsOverride ? { channels: channelsOverride } : {}),
          ...(locale ? { locale } : {}),
          ...(scheduled ? { sendAt: scheduled.toISOString() } : {}),
        }
      : null;

  function openConfirm() {
    setTried(true);
    setSendError(null);
    if (problems.length === 0 && request) setConfirm({ key: newRequestKey() });
  }

  async function send() {
    if (!request || !confirm) return;
    setSending(true);
    setSendError(null);
    try {
      const accepted = await api.send(request, confirm.key);
      navigate(`/admin/messages/${accepted.id}`, { state: { sent: accepted.status } });
    } catch (err) {
      setSendError(err);
      setSending(false);
    }
  }

  const count = counted?.count;
  const sendLabel =
    count !== undefined
      ? when === 'later'
        ? t('con.compose.scheduleTo', { count })
        : t('con.compose.sendTo', { count })
      : t('con.compose.send');
  const zone = `${i18n.zoneName()} (${i18n.timeZone})`;

  return (
    <div className="cpage compose">
      <PageHead title={t('con.compose.title')} id="compose-title" sub={t('con.compose.sub')} />
      <div className="compose-grid">
        <div className="compose-main">
          <section className="card step">
            <h2 className="step-title">
              <span className="step-no">1</span>
              {t('con.compose.what')}
            </h2>
            <div className="form-grid">
              <label className="field">
                <span className="field-label">{t('con.compose.source')}</span>
                <select
                  className="select select-block"
                  name="source"
                  value={sourceKey}
                  aria-invalid={tried && !source}
                  onChange={(e) => setSourceKey(e.target.value)}
                >
                  <option value="">{t('con.compose.pickSource')}</option>
                  {sources.data?.map((s) => (
                    <option key={s.key} value={s.key}>
                      {s.name}（{s.key}）
                    </option>
                  ))}
                </select>
                <span className="field-hint">{t('con.compose.sourceHint')}</span>
              </label>
              <label className="field">
                <span className="field-label">{t('con.compose.category')}</span>
                <select
                  className="select select-block"
                  name="category"
                  value={category ? category.key : ''}
                  aria-invalid={tried && !category}
                  onChange={(e) => {
                    setCategoryKey(e.target.value);
                    setChannelChoice(null);
                  }}
                >
                  <option value="">{t('con.compose.pickCategory')}</option>
                  {allowed.map((c) => (
                    <option key={c.key} value={c.key}>
                      {i18n.pick(c.name, c.key)}
                    </option>
                  ))}
                </select>
                {source && allowed.length === 0 ? (
                  <span className="field-error">{t('con.compose.noCategories')}</span>
                ) : (
                  source && (
                    <span className="field-hint">
                      {t('con.compose.categoryHint', { source: source.name })}
                    </span>
                  )
                )}
              </label>
            </div>
            {category && (
              <p className="category-facts small">
                <span className={`tag${category.priority === 'urgent' ? ' tag-warn' : ''}`}>
                  {priorityLabel(i18n, category.priority)}
                </span>
                {category.mandatory && (
                  <span className="tag tag-warn">{t('con.compose.mandatory')}</span>
                )}
                <span className="muted">
                  {t('con.compose.defaults', {
                    list: category.defaultChannels
                      .map((c) => channelLabel(i18n, c))
                      .join(t('con.listSep')),
                  })}
                </span>
              </p>
            )}
          </section>

          <section className="card step">
            <h2 className="step-title">
              <span className="step-no">2</span>
              {t('con.compose.audience')}
            </h2>
            <AudienceBuilder value={audience} onChange={setAudience} />
          </section>

          <section className="card step">
            <h2 className="step-title">
              <span className="step-no">3</span>
              {t('con.compose.content')}
            </h2>
            {!category ? (
              <p className="muted">{t('con.compose.contentFirst')}</p>
            ) : templates.data === undefined ? (
              templates.error ? (
                <InlineError error={templates.error} />
              ) : (
                <p className="muted">{t('state.loading')}</p>
              )
            ) : (
              <>
                {fields.length === 0 ? (
                  <p className="muted">{t('con.compose.noFields')}</p>
                ) : (
                  <p className="card-hint">{t('con.compose.fieldsHint')}</p>
                )}
                <div className="form-grid">
                  {fields.map((f) => {
                    const invalid = tried && missing.includes(f);
                    const common = {
                      name: `data.${f.name}`,
                      value: values[f.name] ?? '',
                      'aria-invalid': invalid,
                      onChange: (e: React.ChangeEvent<HTMLInputElement | HTMLTextAreaElement>) =>
                        setValues({ ...values, [f.name]: e.target.value }),
                    };
                    return (
                      <label key={f.name} className={`field${f.list ? ' field-wide' : ''}`}>
                        <span className="field-label">
                          <span className="mono">{f.name}</span>
                          {f.optional && (
                            <span className="muted small"> · {t('con.compose.optional')}</span>
                          )}
                        </span>
                        {f.list ? (
                          <textarea className="textarea" rows={4} {...common} />
                        ) : (
                          <input className="input" {...common} />
                        )}
                        {f.list && <span className="field-hint">{t('con.compose.listHint')}</span>}
                        {invalid && (
                          <span className="field-error">{t('con.compose.required')}</span>
                        )}
                      </label>
                    );
                  })}
                  <label className="field field-wide">
                    <span className="field-label">
                      {t('con.compose.link')}
                      <span className="muted small"> · {t('con.compose.optional')}</span>
                    </span>
                    <input
                      className="input"
                      name="data.url"
                      type="url"
                      inputMode="url"
                      placeholder="https://"
                      value={url}
                      onChange={(e) => setUrl(e.target.value)}
                    />
                    <span className="field-hint">{t('con.compose.linkHint')}</span>
                  </label>
                </div>
              </>
            )}
          </section>

          <section className="card step">
            <h2 className="step-title">
              <span className="step-no">4</span>
              {t('con.compose.how')}
            </h2>
            <div className="field">
              <span className="field-label">{t('con.compose.channels')}</span>
              <div className="checks">
                {CHANNELS.map((c) => (
                  <label key={c} className="check-chip">
                    <input
                      type="checkbox"
                      name="channel"
                      value={c}
                      checked={channels.includes(c)}
                      onChange={(e) =>
                        setChannelChoice(
                          e.target.checked ? [...channels, c] : channels.filter((x) => x !== c),
                        )
                      }
                    />
                    {channelLabel(i18n, c)}
                  </label>
                ))}
              </div>
              <span className="field-hint">
                {channelsOverride
                  ? t('con.compose.channelsOverride')
                  : t('con.compose.channelsHint')}
              </span>
            </div>
            <div className="form-grid">
              <label className="field">
                <span className="field-label">{t('con.compose.language')}</span>
                <select
                  className="select select-block"
                  name="locale"
                  value={locale}
                  onChange={(e) => setLocale(e.target.value)}
                >
                  <option value="">{t('con.msg.eachOwn')}</option>
                  {LOCALES.map((l) => (
                    <option key={l} value={l}>
                      {LOCALE_NAMES[l]}
                    </option>
                  ))}
                </select>
              </label>
              <div className="field">
                <span className="field-label">{t('con.compose.when')}</span>
                <div className="radio-line">
                  <label className="check-chip">
                    <input
                      type="radio"
                      name="when"
                      checked={when === 'now'}
                      onChange={() => setWhen('now')}
                    />
                    {t('con.compose.now')}
                  </label>
                  <label className="check-chip">
                    <input
                      type="radio"
                      name="when"
                      checked={when === 'later'}
                      onChange={() => {
                        setWhen('later');
                        if (!sendAt)
                          setSendAt(
                            dateTimeInputValue(new Date(Date.now() + 60 * 60_000), i18n.timeZone),
                          );
                      }}
                    />
                    {t('con.compose.later')}
                  </label>
                </div>
                {when === 'later' && (
                  <>
                    <input
                      className="input schedule-input"
                      type="datetime-local"
                      name="sendAt"
                      value={sendAt}
                      min={dateTimeInputValue(new Date(), i18n.timeZone)}
                      aria-invalid={tried && problems.includes(t('con.compose.needTime'))}
                      onChange={(e) => setSendAt(e.target.value)}
                    />
                    <span className="field-hint">{t('con.compose.zone', { zone })}</span>
                  </>
                )}
              </div>
            </div>
          </section>
        </div>

        <aside className="compose-side">
          <section className="card">
            <h2 className="card-title">{t('con.compose.recipients')}</h2>
            <AudienceCount preview={audiencePreview} empty={to === null} channels={channels} />
          </section>
          <section className="card">
            <h2 className="card-title">{t('con.compose.preview')}</h2>
            {previewBody ? (
              <MessagePreview preview={preview} />
            ) : (
              <p className="muted">{t('con.compose.previewFirst')}</p>
            )}
          </section>
          <section className="card send-card">
            {tried && problems.length > 0 && (
              <ul className="problems" role="alert" data-testid="compose-problems">
                {problems.map((p) => (
                  <li key={p}>{p}</li>
                ))}
              </ul>
            )}
            <button
              type="button"
              className="button button-primary button-block"
              data-testid="send"
              onClick={openConfirm}
            >
              <SendIcon size={18} />
              {sendLabel}
            </button>
          </section>
        </aside>
      </div>

      <div className="sendbar">
        <span className="sendbar-count">
          {count !== undefined
            ? `${i18n.number(count)} ${t('con.aud.people', { count })}`
            : t('con.aud.countEmpty')}
        </span>
        <button type="button" className="button button-primary" onClick={openConfirm}>
          <SendIcon size={18} />
          {when === 'later' ? t('con.compose.schedule') : t('con.compose.send')}
        </button>
      </div>

      {confirm && request && category && source && (
        <Modal
          title={when === 'later' ? t('con.compose.confirmSchedule') : t('con.compose.confirmSend')}
          onClose={() => !sending && setConfirm(null)}
          actions={
            <>
              <button
                type="button"
                className="button"
                disabled={sending}
                onClick={() => setConfirm(null)}
              >
                {t('con.cancel')}
              </button>
              <button
                type="button"
                className="button button-primary"
                data-testid="confirm-send"
                disabled={sending}
                onClick={() => void send()}
              >
                {sending ? t('con.compose.sending') : sendLabel}
              </button>
            </>
          }
        >
          <p>
            {t('con.compose.confirmBody', {
              category: i18n.pick(category.name, category.key),
              source: source.name,
              count: count ?? 0,
            })}
          </p>
          <h3 className="aud-summary-title">{t('con.compose.confirmAudience')}</h3>
          <AudienceSummary value={audience} />
          <p className="muted small">
            {scheduled
              ? t('con.compose.confirmAt', { time: i18n.dateTime(scheduled, { zone: true }) })
              : t('con.compose.confirmNow')}
          </p>
          {sendError ? <InlineError error={sendError} /> : null}
        </Modal>
      )}
    </div>
  );
}
