import type { Audience, Message } from '../../api/console-types';
import type { I18n } from '../../i18n/i18n-provider';

/** The audience in words: "群组 class-2024-agronomy-1 · 农学院/作物学系 · 2 位用户". */
export function audienceText(i18n: I18n, to: Audience): string {
  const { t } = i18n;
  const parts: string[] = [];
  if (to.all) parts.push(t('con.aud.everyone'));
  if (to.groups?.length) parts.push(t('con.aud.groupsText', { list: to.groups.join('、') }));
  const f = to.filter;
  const units = [...(f?.orgPrefix ? [f.orgPrefix] : []), ...(f?.orgPrefixes ?? [])];
  if (units.length)
    parts.push(units.length <= 3 ? units.join('、') : t('con.aud.units', { count: units.length }));
  if (f?.roles?.length) parts.push(t('con.aud.rolesText', { list: f.roles.join('、') }));
  if (f?.attributes && Object.keys(f.attributes).length)
    parts.push(
      Object.entries(f.attributes)
        .map(([k, v]) => `${k}=${v}`)
        .join('、'),
    );
  if (to.users?.length) {
    parts.push(
      to.users.length <= 3
        ? to.users.join('、')
        : t('con.aud.usersText', { count: to.users.length }),
    );
  }
  return parts.join(' · ') || t('con.none');
}

/** A line about what the message says, from its data: its first few text values. */
export function dataSnippet(message: Pick<Message, 'data'>): string {
  const values: string[] = [];
  for (const value of Object.values(message.data ?? {})) {
    if (typeof value === 'string' && value.trim() && !/^https?:\/\//.test(value))
      values.push(value.trim());
    else if (typeof value === 'number') values.push(String(value));
    if (values.length === 3) break;
  }
  const text = values.join(' · ');
  return text.length > 90 ? `${text.slice(0, 88)}…` : text;
}
