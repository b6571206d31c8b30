import { DICTIONARIES, type MessageKey } from '../i18n/dictionary';
import type { I18n } from '../i18n/i18n-provider';

/**
 * Words for Herald's codes (channels, statuses, reasons, priorities): translated when the
 * dictionary knows the code, else the code itself — a new status still shows, never a blank.
 */
function known(key: string): key is MessageKey {
  return key in DICTIONARIES.en;
}

function label(i18n: I18n, key: string, fallback: string): string {
  return known(key) ? i18n.t(key) : fallback;
}

export const channelLabel = (i18n: I18n, channel: string) =>
  label(i18n, `channel.${channel}`, channel);

export const deliveryStatusLabel = (i18n: I18n, status: string) =>
  label(i18n, `con.delivery.${status}`, status);

export const messageStatusLabel = (i18n: I18n, status: string) =>
  label(i18n, `con.message.${status}`, status);

export const reasonLabel = (i18n: I18n, reason: string) =>
  label(i18n, `con.reason.${reason}`, reason);

export const priorityLabel = (i18n: I18n, priority: string) =>
  label(i18n, `con.priority.${priority}`, priority);

export const outcomeLabel = (i18n: I18n, outcome: string) =>
  label(i18n, `con.outcome.${outcome}`, outcome);

export const roleLabel = (i18n: I18n, role: string) => label(i18n, `con.role.${role}`, role);

/** Tone of a delivery or message status, for its tag's colour. */
export function statusTone(status: string): 'ok' | 'bad' | 'wait' | 'quiet' {
  if (status === 'sent' || status === 'delivered' || status === 'completed') return 'ok';
  if (status === 'failed' || status === 'dead') return 'bad';
  if (status === 'suppressed') return 'quiet';
  return 'wait';
}

/** "85 ms", "1.4 s", "2.5 min", "1.2 h" in the UI's number format. */
export function formatDuration(ms: number, i18n: I18n): string {
  const n = (value: number, digits: number) =>
    new Intl.NumberFormat(i18n.locale, { maximumFractionDigits: digits }).format(value);
  if (ms < 1000) return `${n(ms, 0)} ms`;
  if (ms < 60_000) return `${n(ms / 1000, ms < 10_000 ? 1 : 0)} s`;
  if (ms < 3_600_000) return `${n(ms / 60_000, 1)} min`;
  return `${n(ms / 3_600_000, 1)} h`;
}

/** A category's name in the UI's language, else its key. */
export function categoryName(
  i18n: I18n,
  categories:
    | readonly { readonly key: string; readonly name: Readonly<Record<string, string>> }[]
    | undefined,
  key: string,
): string {
  const found = categories?.find((c) => c.key === key);
  return found ? i18n.pick(found.name, key) : key;
}
