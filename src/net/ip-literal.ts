import { isIPv4, isIPv6 } from 'node:net';

/** An IP address in canonical text form: dotted quad, or IPv6 without brackets or zone. */
export interface IpLiteral {
  readonly family: 4 | 6;
  readonly address: string;
}

/**
 * Reads `host` as an IP address if it is one, in any spelling a resolver would accept:
 * `127.0.0.1`, `127.1`, `0x7f000001`, `2130706433`, `017700000001`, `0x7f.1`, a trailing
 * dot, `[::1]`, `[::ffff:127.0.0.1]`. Returns null for a name (which then goes to DNS).
 *
 * WHATWG URL parsing already canonicalises these for http(s) URLs, but the address policy
 * must not depend on every caller having gone through `new URL`: getaddrinfo/inet_aton
 * accept the same legacy forms, so a raw hostname like `0x7f.1` has to be read as the
 * loopback address it is, not looked up as a name.
 */
export function parseIpLiteral(host: string): IpLiteral | null {
  let text = host.trim();
  if (text.startsWith('[') && text.endsWith(']')) text = text.slice(1, -1);
  const zone = text.indexOf('%');
  if (zone !== -1 && isIPv6(text.slice(0, zone))) text = text.slice(0, zone);
  if (isIPv6(text)) return { family: 6, address: text.toLowerCase() };
  if (isIPv4(text)) return { family: 4, address: text };
  const loose = parseIPv4Loose(text);
  return loose === null ? null : { family: 4, address: loose };
}

/**
 * inet_aton semantics (also WHATWG's IPv4 parser): one to four parts, each decimal, octal
 * (leading `0`) or hex (`0x`); the last part fills all remaining bytes. Returns the dotted
 * quad, or null when `text` is not an IPv4 address in any of these spellings.
 */
export function parseIPv4Loose(text: string): string | null {
  const trimmed = text.endsWith('.') ? text.slice(0, -1) : text;
  if (trimmed === '') return null;
  const parts = trimmed.split('.');
  if (parts.length > 4) return null;
  const numbers: number[] = [];
  for (const part of parts) {
    const n = parseIPv4Part(part);
    if (n === null) return null;
    numbers.push(n);
  }
  const last = numbers.pop() ?? 0;
  if (numbers.some((n) => n > 255)) return null;
  if (last >= 256 ** (4 - numbers.length)) return null;
  let value = last;
  numbers.forEach((n, i) => {
    value += n * 256 ** (3 - i);
  });
  return [value >>> 24, (value >>> 16) & 255, (value >>> 8) & 255, value & 255].join('.');
}

function parseIPv4Part(part: string): number | null {
  let digits: string;
  let radix: number;
  if (/^0x[0-9a-f]*$/i.test(part)) {
    digits = part.slice(2) || '0';
    radix = 16;
  } else if (/^0[0-7]+$/.test(part)) {
    digits = part.slice(1);
    radix = 8;
  } else if (/^(0|[1-9][0-9]*)$/.test(part)) {
    digits = part;
    radix = 10;
  } else {
    return null;
  }
  // Long inputs would lose precision in parseInt; anything this long is out of range anyway.
  if (digits.replace(/^0+/, '').length > 12) return null;
  const n = parseInt(digits, radix);
  return n <= 0xffffffff ? n : null;
}
