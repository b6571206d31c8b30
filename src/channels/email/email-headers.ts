// C0 and C1 control characters (CR, LF, NUL, TAB …), DEL, and the Unicode line and paragraph
// separators: none of them belongs in a header, and CR/LF would end it and start another.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g;

/**
 * A value safe to put into a header as text (subject, display name): control characters
 * become spaces, so `Hi\r\nBcc: x` stays one line of subject instead of a second header.
 */
export function headerText(value: string): string {
  return value.replace(CONTROL, ' ').replace(/ {2,}/g, ' ').trim();
}

// One conservative addr-spec: no display name, no quotes, no comments, no whitespace, no list.
// Letters and digits of any script are allowed (internationalised addresses); everything that
// could start a second address or a new header (`,;<>"()` CR LF) is not.
const LOCAL = /^[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+(\.[\p{L}\p{N}!#$%&'*+/=?^_`{|}~-]+)*$/u;
const LABEL = /^[\p{L}\p{N}]([\p{L}\p{N}-]{0,61}[\p{L}\p{N}])?$/u;

/** Whether `value` is one plausible mailbox address (`local@domain.tld`) and nothing else. */
export function isPlausibleAddress(value: string): boolean {
  if (value.length > 254) return false;
  const at = value.lastIndexOf('@');
  if (at < 1) return false;
  const local = value.slice(0, at);
  const labels = value.slice(at + 1).split('.');
  return (
    local.length <= 64 &&
    LOCAL.test(local) &&
    labels.length >= 2 &&
    labels.every((label) => LABEL.test(label))
  );
}

export interface Mailbox {
  readonly name: string;
  readonly address: string;
}

// `Name <addr>`, `"Name" <addr>` or `<addr>`: nothing after the `>`, no other `<` or `>`.
const NAMED = /^([^<>]*)<([^<>]*)>\s*$/s;

/**
 * Parses a configured sender (`Herald <noreply@example.edu>`, `"Office, Dept" <a@x.edu>` or
 * a bare address) into one mailbox with a header-safe name; throws when it is not exactly
 * one plausible address in one of those shapes. Strict on purpose: a lenient parser reads
 * `a@x.edu>\r\nBcc: b@y.edu` as some address, which is never what an operator meant.
 */
export function parseMailbox(value: string): Mailbox {
  const fail = () =>
    new Error(`"${headerText(value)}" is not one email address like "Name <a@example.edu>"`);
  const trimmed = value.trim();
  const named = NAMED.exec(trimmed);
  const address = named ? named[2]!.trim() : trimmed;
  if (!isPlausibleAddress(address)) throw fail();
  let name = named ? named[1]!.trim() : '';
  if (name.length >= 2 && name.startsWith('"') && name.endsWith('"')) {
    name = name.slice(1, -1).replace(/\\(.)/gs, '$1');
  }
  return { name: headerText(name), address };
}
