import { Type } from 'typebox';
import { parseMailbox } from '../channels/email/email-headers.js';

/** `From` / `Reply-To` of a category's or a source's email; null → the next one in line. */
export const EmailSenderSchema = (what: string) =>
  Type.Union([Type.String({ minLength: 3, maxLength: 320 }), Type.Null()], {
    description: `${what}: one mailbox, "Name <a@example.edu>" or a bare address; null clears it`,
    examples: ['教务处 <jwc@example.edu>'],
  });

// Control characters (CR, LF, NUL, TAB …), DEL and the Unicode line separators: a header value
// holding one could end the header and start another.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/**
 * Why `value` cannot be an email sender, or null when it can. Refused rather than cleaned:
 * an address with a line break in it is an injection attempt or a typo, never a sender.
 */
export function emailSenderProblem(field: string, value: string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (CONTROL.test(value)) return `${field} must not contain control characters or line breaks`;
  try {
    parseMailbox(value);
    return null;
  } catch (err) {
    return `${field}: ${(err as Error).message}`;
  }
}
