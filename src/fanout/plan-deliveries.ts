import { addressFor, isChannel, type Channel } from '../channels/channel.js';
import type { Recipient } from '../recipients/audience-types.js';
import type { CategoryPreference } from '../preferences/preferences-store.js';

export interface PlanInput {
  readonly recipient: Recipient;
  readonly category: {
    readonly mandatory: boolean;
    readonly defaultChannels: readonly string[];
    /** Channel planned instead of one the user cannot be reached on, e.g. wechat → sms. */
    readonly channelFallbacks?: Readonly<Partial<Record<Channel, Channel>>>;
  };
  /** Channels the producer asked for; null → the category's (or the user's) choice. */
  readonly messageChannels: readonly string[] | null;
  readonly messageLocale: string | null;
  readonly preference: CategoryPreference | undefined;
  /** Whether some provider (real or sandbox) serves the channel. */
  readonly channelServed: (channel: Channel) => boolean;
}

export interface PlannedDelivery {
  readonly channel: Channel;
  readonly status: 'queued' | 'suppressed';
  readonly reason: string | null;
  readonly locale: string;
  /** Set on a delivery planned because the user cannot be reached on this channel. */
  readonly fallbackFrom: Channel | null;
}

/** Suppressions a channel fallback answers: the user cannot be reached on the channel here. */
const UNREACHABLE = new Set(['no-address', 'channel-not-configured']);

/**
 * Decides, for one recipient of one message, which deliveries exist and in which state.
 *
 * - Mandatory categories ignore preferences.
 * - A category the user turned off yields a `suppressed` delivery per channel (reason
 *   `opted-out`), so the operator sees the user was reached and why nothing was sent.
 * - A user's channel choice for the category replaces the category defaults; when the producer
 *   named channels, only those the user also chose are used. Channels the user did not choose
 *   get no delivery at all.
 * - No address for a channel → `suppressed` (`no-address`); no provider → `suppressed`
 *   (`channel-not-configured`). Never a silent success.
 * - Channel fallback: for such a suppressed channel X, when the category falls back X → Y,
 *   a delivery on Y is planned too (`fallbackFrom: X`), unless Y is already planned for this
 *   user or the user's own channel choice leaves Y out (mandatory categories ignore that).
 *   One hop: a fallback does not fall back again. Y is decided like any channel (it may be
 *   suppressed `no-address` in turn, which shows that the fallback was tried).
 */
export function planDeliveries(input: PlanInput): PlannedDelivery[] {
  const { recipient, category, messageChannels, preference } = input;
  const locale = input.messageLocale ?? recipient.locale;
  const requested = (messageChannels ?? category.defaultChannels).filter(isChannel);
  const usePrefs = !category.mandatory && preference !== undefined;

  if (usePrefs && !preference.enabled) {
    return requested.map((channel) => ({
      channel,
      status: 'suppressed',
      reason: 'opted-out',
      locale,
      fallbackFrom: null,
    }));
  }
  let channels: Channel[] = requested;
  const chosen =
    usePrefs && preference.channels !== null ? preference.channels.filter(isChannel) : null;
  if (chosen) {
    channels = messageChannels === null ? chosen : requested.filter((c) => chosen.includes(c));
  }
  const decide = (channel: Channel, fallbackFrom: Channel | null): PlannedDelivery => {
    if (addressFor(channel, recipient) === null) {
      return { channel, status: 'suppressed', reason: 'no-address', locale, fallbackFrom };
    }
    if (!input.channelServed(channel)) {
      return {
        channel,
        status: 'suppressed',
        reason: 'channel-not-configured',
        locale,
        fallbackFrom,
      };
    }
    return { channel, status: 'queued', reason: null, locale, fallbackFrom };
  };
  const planned = [...new Set(channels)].map((channel) => decide(channel, null));
  const taken = new Set<Channel>(planned.map((p) => p.channel));
  for (const p of planned.slice()) {
    if (p.status !== 'suppressed' || !UNREACHABLE.has(p.reason!)) continue;
    const to = input.category.channelFallbacks?.[p.channel];
    if (to === undefined || taken.has(to) || (chosen !== null && !chosen.includes(to))) continue;
    taken.add(to);
    planned.push(decide(to, p.channel));
  }
  return planned;
}
