import { addressFor, isChannel, type Channel } from '../channels/channel.js';
import type { Recipient } from '../recipients/audience-types.js';
import type { CategoryPreference } from '../preferences/preferences-store.js';
import type { DeliveriesTable } from '../store/schema.js';
import { newId } from '../store/ids.js';

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
  const decide = (channel: Channel, fallbackFrom: Channel | null): PlannedDelivery =>
    planChannel(channel, recipient, input.channelServed, locale, fallbackFrom);
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

/**
 * One channel for one recipient: `queued`, or `suppressed` when the user has no address on
 * it (`no-address`) or nothing serves it (`channel-not-configured`).
 */
export function planChannel(
  channel: Channel,
  recipient: Recipient,
  channelServed: (channel: Channel) => boolean,
  locale: string,
  fallbackFrom: Channel | null,
): PlannedDelivery {
  const reason =
    addressFor(channel, recipient) === null
      ? 'no-address'
      : !channelServed(channel)
        ? 'channel-not-configured'
        : null;
  return {
    channel,
    status: reason === null ? 'queued' : 'suppressed',
    reason,
    locale,
    fallbackFrom,
  };
}

/** The new delivery row of a planned delivery (a suppressed one is final at once). */
export function deliveryRow(
  messageId: string,
  userId: string,
  planned: PlannedDelivery,
  now: number,
): DeliveriesTable {
  return {
    id: newId(now),
    message_id: messageId,
    user_id: userId,
    channel: planned.channel,
    status: planned.status,
    reason: planned.reason,
    locale: planned.locale,
    attempts: 0,
    last_error: null,
    provider: null,
    provider_message_id: null,
    created_at: now,
    updated_at: now,
    final_at: planned.status === 'suppressed' ? now : null,
    fallback_from: planned.fallbackFrom,
  };
}
