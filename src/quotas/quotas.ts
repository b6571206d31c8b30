import { Type } from 'typebox';
import { CHANNELS, isChannel, type Channel } from '../channels/channel.js';

/**
 * A source's daily quotas: deliveries allowed per channel per campus day. A channel absent
 * from the object is unlimited; 0 stops the channel for that source.
 */
export type Quotas = Readonly<Partial<Record<Channel, number>>>;

export const MAX_DAILY_QUOTA = 1_000_000_000;

export const QuotasSchema = Type.Object(
  Object.fromEntries(
    CHANNELS.map((c) => [c, Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_DAILY_QUOTA }))]),
  ),
  {
    additionalProperties: false,
    description:
      'Deliveries allowed per channel per day (campus timezone); a channel left out is unlimited, 0 stops it',
    examples: [{ sms: 5000, wechat: 20000 }],
  },
);

/** Reads the stored JSON, keeping only well-formed entries. */
export function parseQuotas(json: string): Quotas {
  const raw = JSON.parse(json) as Record<string, unknown>;
  const quotas: Partial<Record<Channel, number>> = {};
  for (const [channel, limit] of Object.entries(raw)) {
    if (isChannel(channel) && typeof limit === 'number' && Number.isInteger(limit) && limit >= 0) {
      quotas[channel] = limit;
    }
  }
  return quotas;
}

export function hasQuotas(quotas: Quotas): boolean {
  return Object.keys(quotas).length > 0;
}
