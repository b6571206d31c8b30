import { useI18n } from '../i18n/i18n-provider';
import { useLiveInbox } from './live-inbox';

/** Whether new messages arrive live; says so in words when the connection is down. */
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
    <span className={`live live-${status}`} role="status" title={label} data-testid="live-status">
      <span className="live-dot" aria-hidden="true" />
      <span className="live-label">{label}</span>
    </span>
  );
}
