/**
 * An IANA time zone name as Herald stores it: the spelling this runtime's `Intl` resolves it to
 * (`asia/shanghai` → `Asia/Shanghai`, `Etc/UTC` → `UTC`), or null when `Intl` does not know it.
 * Offsets such as `+08:00` are refused even where `Intl` accepts them: a user's zone must carry
 * its own daylight-saving rules, which an offset does not.
 */
export function canonicalTimeZone(zone: string): string | null {
  if (zone.length === 0 || zone.length > 64 || /^[+-]/.test(zone)) return null;
  try {
    return new Intl.DateTimeFormat('en', { timeZone: zone }).resolvedOptions().timeZone;
  } catch {
    return null;
  }
}
