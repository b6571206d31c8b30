import { addressFor, isChannel, type Channel } from '../channels/channel.js';
import type { Recipient } from '../recipients/audience-types.js';
import type { CategoryPreference } from '../preferences/preferences-store.js';

export interface PlanInput {
  readonly recipient: Recipient;
  readonly category: { readonly mandatory: boolean; readonly defaultChannels: readonly string[] };
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
}

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
    }));
  }
  let channels: Channel[] = requested;
  if (usePrefs && preference.channels !== null) {
    const chosen = preference.channels.filter(isChannel);
    channels = messageChannels === null ? chosen : requested.filter((c) => chosen.includes(c));
  }
  return [...new Set(channels)].map((channel): PlannedDelivery => {
    if (addressFor(channel, recipient) === null) {
      return { channel, status: 'suppressed', reason: 'no-address', locale };
    }
    if (!input.channelServed(channel)) {
      return { channel, status: 'suppressed', reason: 'channel-not-configured', locale };
    }
    return { channel, status: 'queued', reason: null, locale };
  });
}
