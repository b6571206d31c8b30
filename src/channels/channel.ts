import type { Recipient } from '../recipients/audience-types.js';

export const CHANNELS = [
  'in_app',
  'email',
  'sms',
  'wechat',
  'wecom',
  'dingtalk',
  'feishu',
  'web_push',
  'webhook',
] as const;

export type Channel = (typeof CHANNELS)[number];

export function isChannel(value: string): value is Channel {
  return (CHANNELS as readonly string[]).includes(value);
}

/**
 * The recipient's address on a channel, or null when they have none (the delivery is then
 * suppressed with reason `no-address`). in_app needs no address; on `webhook` the address is
 * the user id too (the campus app behind the configured URL knows its users by it); web_push
 * is addressed by configuration added in a later issue.
 */
export function addressFor(channel: Channel, r: Recipient): string | null {
  switch (channel) {
    case 'in_app':
    case 'webhook':
      return r.id;
    case 'email':
      return r.email;
    case 'sms':
      return r.phone;
    case 'wechat':
      return r.wechatOpenId;
    case 'wecom':
      return r.wecomUserId;
    case 'dingtalk':
      return r.dingtalkUserId;
    case 'feishu':
      return r.feishuUserId;
    case 'web_push':
      return null;
  }
}
