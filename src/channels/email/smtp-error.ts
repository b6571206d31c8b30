import { DeliveryError } from '../channel-provider.js';

/** The fields nodemailer (and Node's socket layer) put on the errors it hands back. */
interface SmtpFailure {
  readonly message?: unknown;
  readonly code?: unknown;
  readonly responseCode?: unknown;
  readonly response?: unknown;
}

// Refusals of this very message before any reply code: sending it again changes nothing.
const PERMANENT_CODES = new Set([
  'EENVELOPE',
  'EMESSAGE',
  'EMAXRECIPIENTS',
  'EFILEACCESS',
  'EURLACCESS',
]);

/**
 * Classifies a failed SMTP send. The reply class decides when there is one (RFC 5321: 4yz
 * transient, 5yz permanent), except 503 "bad sequence of commands" and 530 "authentication
 * / STARTTLS required", which say the session or the relay's settings were wrong, not the
 * message. Without a reply code, connection-level failures are transient, envelope and
 * message refusals permanent, and anything unknown transient (the retry policy caps it).
 */
export function smtpDeliveryError(err: unknown): DeliveryError {
  const e = (typeof err === 'object' && err !== null ? err : {}) as SmtpFailure;
  const code = typeof e.code === 'string' ? e.code : undefined;
  const responseCode = typeof e.responseCode === 'number' ? e.responseCode : undefined;
  const text = oneLine(
    typeof e.response === 'string' && e.response !== ''
      ? e.response
      : typeof e.message === 'string'
        ? e.message
        : String(err),
  );
  const message = `smtp ${responseCode ?? code ?? 'error'}: ${text}`;
  return new DeliveryError(message, kindOf(code, responseCode), undefined, { cause: err });
}

function kindOf(code: string | undefined, responseCode: number | undefined): DeliveryError['kind'] {
  // A rejected login is the relay's configuration: failing every mail for good while an
  // operator fixes a password would lose them all.
  if (code === 'EAUTH' || code === 'ENOAUTH') return 'transient';
  if (responseCode !== undefined && responseCode >= 400 && responseCode < 600) {
    if (responseCode < 500 || responseCode === 503 || responseCode === 530) return 'transient';
    return 'permanent';
  }
  if (code !== undefined && PERMANENT_CODES.has(code)) return 'permanent';
  // Everything else failed on the way to the relay or at it — ECONNREFUSED, ECONNRESET,
  // ETIMEDOUT, ESOCKET, ECONNECTION, EDNS, ETLS, EAUTH … — not because of this message.
  return 'transient';
}

/** Server replies can span lines; the delivery's last error is one short line. */
function oneLine(text: string): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > 300 ? `${flat.slice(0, 299)}…` : flat;
}
