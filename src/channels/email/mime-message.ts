import { domainToASCII } from 'node:url';
import type { Mailbox } from './email-headers.js';

/**
 * A small RFC 5322 / RFC 2045 composer for Herald's one shape of mail: a few headers and a
 * text/plain + text/html pair in multipart/alternative, UTF-8. It builds the whole message as
 * one Buffer, which nodemailer then only has to send (dot-stuffing is the transport's job).
 * Doing this ourselves instead of through nodemailer's MIME tree cuts the sender's CPU per
 * mail by more than half (see bench/README.md).
 *
 * Guarantees: CRLF line endings only; every line ≤ 998 octets (headers folded near 78, bodies
 * encoded in lines ≤ 76); headers are 7-bit unless an address itself is internationalised
 * (RFC 6532); non-ASCII text in headers is RFC 2047 encoded-words; nothing from the values can
 * start a new header line (callers pass header-safe text: see email-headers.ts, and this
 * module drops CR/LF again as a second line of defence).
 */
export interface MimeInput {
  readonly from: Mailbox;
  /** `Sender:` — set when the From address is not the relay's own sender. */
  readonly sender?: Mailbox;
  readonly to: Mailbox;
  readonly replyTo?: Mailbox;
  readonly subject: string;
  /** With angle brackets: `<id@herald>`. */
  readonly messageId: string;
  readonly date: Date;
  /** Extra structured headers, ASCII, in this order (List-Unsubscribe, X-…). */
  readonly headers: readonly (readonly [name: string, value: string])[];
  /** Makes the multipart boundary; a delivery id (only [A-Za-z0-9._-] are kept). */
  readonly boundaryKey: string;
  readonly text: string;
  readonly html: string;
}

export function composeMessage(m: MimeInput): Buffer {
  // `=_` can occur in neither a quoted-printable nor a base64 body, nor in a 7bit body that
  // we would have sent as quoted-printable had it held `=_`: the boundary cannot collide.
  const boundary = `=_herald_${m.boundaryKey.replace(/[^A-Za-z0-9._-]/g, '').slice(0, 50)}`;
  const lines = [
    header('From', mailbox(m.from)),
    ...(m.sender ? [header('Sender', mailbox(m.sender))] : []),
    header('To', mailbox(m.to)),
    ...(m.replyTo ? [header('Reply-To', mailbox(m.replyTo))] : []),
    ...(m.subject !== '' ? [unstructured('Subject', m.subject)] : []),
    header('Date', rfc5322Date(m.date)),
    header('Message-ID', m.messageId),
    'MIME-Version: 1.0',
    ...m.headers.map(([name, value]) => header(name, value)),
    `Content-Type: multipart/alternative; boundary="${boundary}"`,
  ];
  return Buffer.from(
    `${lines.join('\r\n')}\r\n\r\n` +
      `--${boundary}\r\n${part('text/plain', m.text, boundary)}` +
      `--${boundary}\r\n${part('text/html', m.html, boundary)}` +
      `--${boundary}--\r\n`,
    'utf8',
  );
}

// ---- headers --------------------------------------------------------------------------------

const NEWLINES = /[\r\n]+/g;

/** A structured header whose value is already ASCII-safe; folded at spaces if long. */
function header(name: string, value: string): string {
  return fold(`${name}: ${value.replace(NEWLINES, ' ')}`);
}

/** Folds a header line at spaces so lines stay near 78 octets (never splits a word). */
function fold(line: string): string {
  if (line.length <= 78) return line;
  const out: string[] = [];
  let current = '';
  for (const word of line.split(' ')) {
    if (current === '') current = word;
    else if (current.length + 1 + word.length <= 78) current += ` ${word}`;
    else {
      out.push(current);
      current = word;
    }
  }
  out.push(current);
  return out.join('\r\n ');
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
const ATOMS = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ ]+$/;

/** Subject and the like: literal when printable ASCII, else RFC 2047 encoded-words. */
function unstructured(name: string, value: string): string {
  const text = value.replace(NEWLINES, ' ');
  if (PRINTABLE_ASCII.test(text) && !text.includes('=?')) {
    const line = fold(`${name}: ${text}`);
    if (line.split('\r\n').every((l) => l.length <= 998)) return line;
  }
  return `${name}: ${encodedWords(text, name.length + 2)}`;
}

/** `Name <addr>` with the name as atoms, a quoted string or encoded-words; bare addr if no name. */
export function mailbox({ name, address }: Mailbox): string {
  const addr = asciiDomain(address);
  const text = name.replace(NEWLINES, ' ');
  if (text === '') return addr;
  if (PRINTABLE_ASCII.test(text) && !text.includes('=?')) {
    const phrase = ATOMS.test(text) ? text : `"${text.replace(/[\\"]/g, '\\$&')}"`;
    return `${phrase} <${addr}>`;
  }
  // Folding between encoded-words is allowed; the header's own name is at most 10 octets.
  const words = encodedWords(text, 10);
  const nl = words.lastIndexOf('\n');
  const used = nl === -1 ? 10 + words.length : words.length - nl - 1;
  return used + addr.length + 3 <= 76 ? `${words} <${addr}>` : `${words}\r\n <${addr}>`;
}

/** The domain in its ASCII (punycode) form; the local part stays as it is (RFC 6531/6532). */
function asciiDomain(address: string): string {
  const at = address.lastIndexOf('@');
  const domain = address.slice(at + 1);
  if (PRINTABLE_ASCII.test(domain)) return address;
  const ascii = domainToASCII(domain);
  return ascii === '' ? address : `${address.slice(0, at)}@${ascii}`;
}

/**
 * RFC 2047 `=?UTF-8?B?…?=` words, each ≤ 75 octets and whole characters (a word never splits
 * a UTF-8 sequence), on lines ≤ 76 octets: the first after `offset` octets of header name.
 */
export function encodedWords(text: string, offset: number): string {
  const words: string[] = [];
  let budget = 76 - offset - 1;
  let chunk = '';
  let bytes = 0;
  const flush = () => {
    words.push(`=?UTF-8?B?${Buffer.from(chunk, 'utf8').toString('base64')}?=`);
    chunk = '';
    bytes = 0;
    budget = 76 - 1;
  };
  for (const ch of text) {
    const size = Buffer.byteLength(ch, 'utf8');
    // 12 octets of `=?UTF-8?B??=`; base64 turns each 3 octets into 4.
    const maxBytes = Math.floor((Math.min(budget, 75) - 12) / 4) * 3;
    if (bytes + size > maxBytes && chunk !== '') flush();
    chunk += ch;
    bytes += size;
  }
  if (chunk !== '' || words.length === 0) flush();
  return words.join('\r\n ');
}

/** RFC 5322 date-time in UTC: `Thu, 26 Nov 2026 09:05:00 +0000`. */
export function rfc5322Date(d: Date): string {
  // toUTCString gives `Thu, 26 Nov 2026 09:05:00 GMT`; the numeric zone is the preferred form.
  return d.toUTCString().replace(/GMT$/, '+0000');
}

// ---- bodies ---------------------------------------------------------------------------------

/** One text part of the alternative: headers, a blank line, the encoded body, CRLF. */
function part(type: 'text/plain' | 'text/html', content: string, boundary: string): string {
  const text = content.replace(/\r\n|\r|\n/g, '\r\n');
  const bytes = Buffer.from(text, 'utf8');
  const encoding = transferEncoding(bytes, text, boundary);
  const body =
    encoding === '7bit'
      ? text
      : encoding === 'base64'
        ? base64Lines(bytes)
        : quotedPrintable(bytes);
  return (
    `Content-Type: ${type}; charset=utf-8\r\n` +
    `Content-Transfer-Encoding: ${encoding}\r\n\r\n` +
    `${body}\r\n`
  );
}

/**
 * 7bit when the text is plain ASCII in short lines (readable as it is); otherwise
 * quoted-printable when most of it is ASCII, base64 when much is not (Chinese text: base64
 * is a third larger, quoted-printable three times).
 */
function transferEncoding(
  bytes: Buffer,
  text: string,
  boundary: string,
): '7bit' | 'quoted-printable' | 'base64' {
  let high = 0;
  let control = false;
  let line = 0;
  let longLine = false;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0a) {
      line = 0;
      continue;
    }
    if (++line > 998) longLine = true;
    if (b >= 0x80) high++;
    else if ((b < 0x20 && b !== 0x09 && b !== 0x0d) || b === 0x7f) control = true;
  }
  if (high === 0 && !control && !longLine && !text.includes(boundary)) return '7bit';
  return high * 6 < bytes.length ? 'quoted-printable' : 'base64';
}

function base64Lines(bytes: Buffer): string {
  const b64 = bytes.toString('base64');
  let out = '';
  for (let i = 0; i < b64.length; i += 76) {
    out += i === 0 ? b64.slice(0, 76) : `\r\n${b64.slice(i, i + 76)}`;
  }
  return out;
}

/** `=XX` for every octet, precomputed. */
const HEX = Array.from(
  { length: 256 },
  (_, b) => `=${b.toString(16).toUpperCase().padStart(2, '0')}`,
);

/**
 * RFC 2045 §6.7 quoted-printable of CRLF-separated text: printable ASCII but `=` as is,
 * everything else `=XX`; space and tab as is except before a line break; soft line breaks
 * (`=` CRLF) keep every encoded line ≤ 76 octets without splitting an `=XX`.
 */
export function quotedPrintable(bytes: Buffer): string {
  const out: string[] = [];
  let line = '';
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x0d && bytes[i + 1] === 0x0a) {
      out.push(line, '\r\n');
      line = '';
      i++;
      continue;
    }
    const endOfLine = i + 1 === bytes.length || (bytes[i + 1] === 0x0d && bytes[i + 2] === 0x0a);
    const literal =
      (b >= 0x21 && b <= 0x7e && b !== 0x3d) || ((b === 0x20 || b === 0x09) && !endOfLine);
    const token = literal ? String.fromCharCode(b) : HEX[b]!;
    if (line.length + token.length > 75) {
      out.push(line, '=\r\n');
      line = '';
    }
    line += token;
  }
  out.push(line);
  return out.join('');
}
