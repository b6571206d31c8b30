import { Link } from 'react-router';
import { useI18n } from '../i18n/i18n-provider';
import { ClockIcon } from './icons';

/**
 * Names the zone times are shown in ("北京时间"), only when that is not the clock of this
 * device: a student abroad, or an operator travelling, reads "09:00" as 北京时间 and not as
 * their laptop's time. A chip in the header on a wide screen; on a phone, whose header has no
 * room left, a slim line under it. Both lead to where the zone is changed.
 */
export function ZoneHint(props: { readonly settings?: string; readonly variant: 'chip' | 'bar' }) {
  const i18n = useI18n();
  const { t } = i18n;
  if (!i18n.foreignZone) return null;
  const name = i18n.zoneName();
  const explanation = t('time.zoneHintTitle', {
    zone: name,
    id: i18n.timeZone,
    device: i18n.zoneName(i18n.deviceTimeZone),
    deviceId: i18n.deviceTimeZone,
  });
  if (props.variant === 'bar')
    return (
      <p className="zone-bar" data-testid="zone-bar" title={explanation}>
        <ClockIcon size={14} />
        <span>{t('time.zoneBar', { zone: name })}</span>
        {props.settings && (
          <Link to={props.settings} aria-label={`${explanation} ${t('time.zoneHintChange')}`}>
            {t('time.zoneChange')}
          </Link>
        )}
      </p>
    );
  const content = (
    <>
      <ClockIcon size={14} />
      <span className="zone-hint-name">{name}</span>
    </>
  );
  return props.settings ? (
    <Link
      to={props.settings}
      className="zone-hint"
      title={`${explanation} ${t('time.zoneHintChange')}`}
      aria-label={`${explanation} ${t('time.zoneHintChange')}`}
      data-testid="zone-hint"
    >
      {content}
    </Link>
  ) : (
    <span
      className="zone-hint"
      title={explanation}
      role="note"
      aria-label={explanation}
      data-testid="zone-hint"
    >
      {content}
    </span>
  );
}
