import { useI18n } from '../i18n/i18n-provider';
import { useLiveInbox } from './live-inbox';

/** Whether new messages arrive live: a dot in the header, its words in a tooltip. */
export function LiveDot() {
  const { t } = useI18n();
  const { status } = useLiveInbox();
  const label =
    status === 'open'
      ? t('live.on')
      : status === 'connecting'
        ? t('live.connecting')
        : t('live.off');
  return (
    <span className={`live live-${status}`} title={label} data-testid="live-status">
      <span className="live-dot" aria-hidden="true" />
      <span className="visually-hidden">{label}</span>
    </span>
  );
}

/** Says so in words, under the header, while the live connection is down. */
export function LiveNotice() {
  const { t } = useI18n();
  const { status } = useLiveInbox();
  if (status !== 'reconnecting') return null;
  return (
    <div className="notice notice-warn" role="status">
      <span className="spinner" aria-hidden="true" />
      <span>{t('live.off')}</span>
    </div>
  );
}
