import { Type } from 'typebox';
import { CHANNELS, type Channel } from '../channels/channel.js';

export type ChannelFallbacks = Readonly<Partial<Record<Channel, Channel>>>;

export const ChannelFallbacksSchema = Type.Object(
  Object.fromEntries(CHANNELS.map((c) => [c, Type.Optional(Type.Enum([...CHANNELS]))])),
  {
    additionalProperties: false,
    description:
      'Channel tried instead when a user has no address on the first, or its delivery fails permanently; one hop, no cycles',
    examples: [{ wechat: 'sms' }],
  },
);

/**
 * Why a fallback map is unusable, or null when it is fine: a channel may not fall back to
 * itself, and following fallbacks may never come back to where it started (a cycle would make
 * "wechat → sms" and "sms → wechat" send both whenever either fails).
 */
export function fallbackMapProblem(fallbacks: ChannelFallbacks): string | null {
  for (const [from, to] of Object.entries(fallbacks) as [Channel, Channel][]) {
    if (from === to) return `channelFallbacks.${from} falls back to itself`;
  }
  for (const start of Object.keys(fallbacks) as Channel[]) {
    const path: Channel[] = [start];
    let next = fallbacks[start];
    while (next !== undefined) {
      if (path.includes(next)) {
        return `channelFallbacks form a cycle: ${[...path, next].join(' → ')}`;
      }
      path.push(next);
      next = fallbacks[next];
    }
  }
  return null;
}
