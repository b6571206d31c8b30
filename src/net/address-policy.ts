import { BlockList, isIP, isIPv6 } from 'node:net';

/**
 * Why an address is refused. Ranges follow the IANA IPv4/IPv6 special-purpose registries:
 * everything that is not globally reachable, plus the IPv6 forms that embed an IPv4 address
 * we cannot see through (6to4, Teredo, the deprecated IPv4-compatible block).
 */
export type RefusalReason =
  | 'loopback'
  | 'unspecified'
  | 'private'
  | 'shared'
  | 'link-local'
  | 'multicast'
  | 'reserved'
  | 'documentation'
  | 'port'
  | 'invalid';

type DeniedRange = Exclude<RefusalReason, 'port' | 'invalid'>;

export type AddressVerdict =
  | { readonly allowed: true; readonly allowListed: boolean }
  | { readonly allowed: false; readonly reason: RefusalReason };

export interface AddressPolicyOptions {
  /**
   * CIDRs an operator explicitly trusts (e.g. `10.20.0.0/16` for a campus app, or
   * `127.0.0.0/8` in tests). Empty by default. An allow-listed address is reachable on any
   * port: the operator vouched for that network, and local receivers (tests, sidecars)
   * rarely sit on 80/443.
   */
  readonly allowCidrs?: readonly string[];
  /** Ports allowed for addresses that are not allow-listed. Default: 80 and 443. */
  readonly allowPorts?: readonly number[];
}

export interface AddressPolicy {
  /** `address` must be an IP literal (no brackets); `port` the destination port. */
  check(address: string, port: number): AddressVerdict;
}

const DENIED: ReadonlyArray<readonly [cidr: string, reason: DeniedRange]> = [
  ['0.0.0.0/8', 'unspecified'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'shared'], // CGNAT
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'], // includes cloud metadata 169.254.169.254
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'reserved'], // IETF protocol assignments
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'reserved'], // 6to4 relay anycast
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'reserved'], // benchmarking
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'], // includes 255.255.255.255
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'reserved'], // deprecated IPv4-compatible addresses
  ['64:ff9b:1::/48', 'reserved'], // local-use NAT64
  ['100::/64', 'reserved'], // discard-only
  ['2001::/23', 'reserved'], // IETF protocol assignments, includes Teredo 2001::/32
  ['2001:db8::/32', 'documentation'],
  ['2002::/16', 'reserved'], // 6to4: embeds an IPv4 address
  ['3fff::/20', 'documentation'],
  ['fc00::/7', 'private'], // unique local
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'reserved'], // deprecated site-local
  ['ff00::/8', 'multicast'],
];

const denyLists = buildDenyLists();

export const DEFAULT_ALLOWED_PORTS: readonly number[] = [80, 443];

/**
 * Decides whether an outbound connection to an address may be made. Refuses everything in
 * {@link DENIED} unless it falls inside an operator allow-list; addresses that embed an IPv4
 * address (`::ffff:a.b.c.d`, NAT64 `64:ff9b::/96`) are judged by the embedded address.
 */
export function createAddressPolicy(options: AddressPolicyOptions = {}): AddressPolicy {
  const allow = new BlockList();
  for (const cidr of options.allowCidrs ?? []) addCidr(allow, cidr);
  const ports = new Set(options.allowPorts ?? DEFAULT_ALLOWED_PORTS);

  return {
    check(address, port) {
      if (isIP(address) === 0) return { allowed: false, reason: 'invalid' };
      const forms = addressForms(address);
      const allowListed = forms.some((form) => allow.check(form.address, form.type));
      if (!allowListed) {
        for (const form of forms) {
          for (const [reason, list] of denyLists) {
            if (list.check(form.address, form.type)) return { allowed: false, reason };
          }
        }
        if (!ports.has(port)) return { allowed: false, reason: 'port' };
      }
      return { allowed: true, allowListed };
    },
  };
}

/** Parses `a.b.c.d/n` or `x::y/n`; throws with the offending value so config errors are clear. */
export function addCidr(list: BlockList, cidr: string): void {
  const match = /^([^/]+)\/(\d{1,3})$/.exec(cidr.trim());
  const address = match?.[1];
  const prefix = Number(match?.[2]);
  const type = address === undefined ? null : isIPv6(address) ? 'ipv6' : 'ipv4';
  try {
    if (address === undefined || type === null) throw new Error('not a CIDR');
    list.addSubnet(address, prefix, type);
  } catch (cause) {
    throw new Error(`Invalid CIDR "${cidr}": expected e.g. 10.0.0.0/8 or fc00::/7`, { cause });
  }
}

interface AddressForm {
  readonly address: string;
  readonly type: 'ipv4' | 'ipv6';
}

/** The address itself plus, for IPv6 forms that carry one, the embedded IPv4 address. */
function addressForms(address: string): AddressForm[] {
  if (!isIPv6(address)) return [{ address, type: 'ipv4' }];
  const forms: AddressForm[] = [{ address, type: 'ipv6' }];
  const embedded = embeddedIPv4(address);
  if (embedded !== null) forms.push({ address: embedded, type: 'ipv4' });
  return forms;
}

/** The IPv4 address inside `::ffff:0:0/96` (mapped) or `64:ff9b::/96` (NAT64), else null. */
function embeddedIPv4(address: string): string | null {
  const words = expandIPv6(address);
  if (words === null) return null;
  const mapped = words.slice(0, 5).every((w) => w === 0) && words[5] === 0xffff;
  const nat64 = words[0] === 0x64 && words[1] === 0xff9b && words.slice(2, 6).every((w) => w === 0);
  if (!mapped && !nat64) return null;
  const high = words[6] ?? 0;
  const low = words[7] ?? 0;
  return [high >> 8, high & 255, low >> 8, low & 255].join('.');
}

/** Eight 16-bit words of an IPv6 address (accepts `::` and a trailing dotted quad). */
function expandIPv6(address: string): number[] | null {
  let text = address.toLowerCase();
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', tail, ...rest] = text.split('::');
  if (rest.length > 0) return null;
  const headWords = head === '' ? [] : head.split(':');
  const tailWords = tail === undefined || tail === '' ? [] : tail.split(':');
  const missing = 8 - headWords.length - tailWords.length;
  if (tail === undefined ? missing !== 0 : missing < 1) return null;
  const all = [
    ...headWords,
    ...Array<string>(tail === undefined ? 0 : missing).fill('0'),
    ...tailWords,
  ];
  const words = all.map((w) => parseInt(w, 16));
  return words.length === 8 && words.every((w) => w >= 0 && w <= 0xffff) ? words : null;
}

function buildDenyLists(): Array<[DeniedRange, BlockList]> {
  const byReason = new Map<DeniedRange, BlockList>();
  for (const [cidr, reason] of DENIED) {
    let list = byReason.get(reason);
    if (!list) {
      list = new BlockList();
      byReason.set(reason, list);
    }
    addCidr(list, cidr);
  }
  return [...byReason];
}
