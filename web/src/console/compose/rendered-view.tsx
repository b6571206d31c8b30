import type { PreviewError } from '../../api/console-types';
import { AlertIcon } from '../../components/icons';
import { useI18n } from '../../i18n/i18n-provider';

export interface RenderedParts {
  readonly subject?: string | undefined;
  readonly title?: string | undefined;
  readonly body: string;
}

/**
 * A rendered message as its channel shows it: an inbox card, an email with its subject, an SMS
 * bubble, a WeChat card. Text only (templates render text; nothing here is HTML).
 */
export function RenderedView({
  channel,
  rendered,
}: {
  readonly channel: string;
  readonly rendered: RenderedParts;
}) {
  const { t } = useI18n();
  const kind =
    channel === 'sms'
      ? 'sms'
      : channel === 'email'
        ? 'email'
        : channel === 'in_app' || channel === 'web_push'
          ? 'inbox'
          : 'card';
  return (
    <div className={`rendered rendered-${kind}`} data-testid="rendered">
      {rendered.subject !== undefined && (
        <div className="rendered-subject">
          <span className="muted">{t('con.preview.subject')}</span> {rendered.subject}
        </div>
      )}
      {rendered.title !== undefined && <div className="rendered-title">{rendered.title}</div>}
      <div className="rendered-body">{rendered.body}</div>
      {kind === 'sms' && (
        <div className="rendered-meta muted small">
          {t('con.preview.smsLength', { count: [...rendered.body].length })}
        </div>
      )}
    </div>
  );
}

/** What went wrong rendering a template, with where (part, line, column) when known. */
export function RenderError({ error }: { readonly error: PreviewError }) {
  const { t } = useI18n();
  const parts: Record<string, string> = {
    subject: t('con.tpl.subject'),
    title: t('con.tpl.titlePart'),
    body: t('con.tpl.body'),
  };
  const part = error.part === undefined ? undefined : (parts[error.part] ?? error.part);
  const where =
    part !== undefined
      ? error.line !== undefined
        ? t('con.preview.where', { part, line: error.line, col: error.col ?? 1 })
        : t('con.preview.wherePart', { part })
      : null;
  const headline =
    error.kind === 'no-template'
      ? t('con.preview.noTemplate')
      : error.kind === 'undefined-variable'
        ? t('con.preview.undefinedVariable')
        : error.kind === 'parse'
          ? t('con.preview.parse')
          : t('con.preview.failed');
  return (
    <div className="render-error" role="alert" data-testid="render-error">
      <AlertIcon size={18} />
      <div>
        <div className="render-error-head">
          {headline}
          {where && <span className="render-error-where">{where}</span>}
        </div>
        <div className="render-error-detail">{error.message}</div>
      </div>
    </div>
  );
}
