import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { planDeliveries, type PlanInput } from './plan-deliveries.js';
import type { Recipient } from '../recipients/audience-types.js';

const student: Recipient = {
  id: 'u1',
  externalId: '2024010101',
  name: '张三',
  locale: 'zh-CN',
  timezone: 'Asia/Shanghai',
  email: 'z@example.edu.cn',
  phone: '13800001111',
  wechatOpenId: null,
  wecomUserId: null,
  dingtalkUserId: null,
  feishuUserId: null,
};

const base: PlanInput = {
  recipient: student,
  category: { mandatory: false, defaultChannels: ['in_app', 'sms'] },
  messageChannels: null,
  messageLocale: null,
  preference: undefined,
  channelServed: () => true,
};

const summary = (input: Partial<PlanInput>) =>
  planDeliveries({ ...base, ...input }).map(
    (d) => `${d.channel}:${d.status}${d.reason ? `(${d.reason})` : ''}`,
  );

describe('planning the deliveries of one recipient', () => {
  it('uses the category defaults and the user locale', () => {
    const plan = planDeliveries(base);
    assert.deepEqual(
      plan.map((d) => d.channel),
      ['in_app', 'sms'],
    );
    assert.ok(plan.every((d) => d.status === 'queued' && d.locale === 'zh-CN'));
  });

  it('lets a message-level locale override the user locale', () => {
    assert.ok(planDeliveries({ ...base, messageLocale: 'en' }).every((d) => d.locale === 'en'));
  });

  it('suppresses every channel with reason opted-out when the user turned the category off', () => {
    assert.deepEqual(
      summary({ preference: { categoryKey: 'c', enabled: false, channels: null } }),
      ['in_app:suppressed(opted-out)', 'sms:suppressed(opted-out)'],
    );
  });

  it('ignores an opt-out for a mandatory category', () => {
    assert.deepEqual(
      summary({
        category: { mandatory: true, defaultChannels: ['in_app', 'sms'] },
        preference: { categoryKey: 'c', enabled: false, channels: ['in_app'] },
      }),
      ['in_app:queued', 'sms:queued'],
    );
  });

  it("uses the user's channel choice instead of the defaults, creating nothing for unchosen channels", () => {
    assert.deepEqual(
      summary({ preference: { categoryKey: 'c', enabled: true, channels: ['in_app', 'email'] } }),
      ['in_app:queued', 'email:queued'],
    );
  });

  it('keeps only channels both the producer and the user chose', () => {
    assert.deepEqual(
      summary({
        messageChannels: ['sms', 'email'],
        preference: { categoryKey: 'c', enabled: true, channels: ['in_app', 'email'] },
      }),
      ['email:queued'],
    );
  });

  it('suppresses a channel the recipient has no address for', () => {
    assert.deepEqual(summary({ messageChannels: ['in_app', 'wechat'] }), [
      'in_app:queued',
      'wechat:suppressed(no-address)',
    ]);
  });

  it('suppresses a channel no provider serves, never a silent success', () => {
    assert.deepEqual(summary({ channelServed: (c) => c === 'in_app' }), [
      'in_app:queued',
      'sms:suppressed(channel-not-configured)',
    ]);
  });
});

describe('channel fallback while planning', () => {
  const wechatFirst = {
    mandatory: false,
    defaultChannels: ['in_app', 'wechat'],
    channelFallbacks: { wechat: 'sms', sms: 'email' },
  } as const;
  const fallbackSummary = (input: Partial<PlanInput>) =>
    planDeliveries({ ...base, category: wechatFirst, ...input }).map(
      (d) =>
        `${d.channel}:${d.status}${d.reason ? `(${d.reason})` : ''}${d.fallbackFrom ? `<-${d.fallbackFrom}` : ''}`,
    );

  it('plans the fallback channel for a user without an address on the first', () => {
    assert.deepEqual(fallbackSummary({}), [
      'in_app:queued',
      'wechat:suppressed(no-address)',
      'sms:queued<-wechat',
    ]);
  });

  it('plans no fallback for a user the first channel reaches', () => {
    assert.deepEqual(fallbackSummary({ recipient: { ...student, wechatOpenId: 'o-123' } }), [
      'in_app:queued',
      'wechat:queued',
    ]);
  });

  it('falls back when no provider serves the first channel', () => {
    assert.deepEqual(
      fallbackSummary({
        recipient: { ...student, wechatOpenId: 'o-123' },
        channelServed: (c) => c !== 'wechat',
      }),
      ['in_app:queued', 'wechat:suppressed(channel-not-configured)', 'sms:queued<-wechat'],
    );
  });

  it('takes one hop only: a fallback that cannot reach the user is shown, not chained', () => {
    assert.deepEqual(fallbackSummary({ recipient: { ...student, phone: null } }), [
      'in_app:queued',
      'wechat:suppressed(no-address)',
      'sms:suppressed(no-address)<-wechat',
    ]);
  });

  it('does not plan a channel twice when the fallback is already planned', () => {
    assert.deepEqual(fallbackSummary({ messageChannels: ['wechat', 'sms'] }), [
      'wechat:suppressed(no-address)',
      'sms:queued',
    ]);
  });

  it("respects the user's channel choice, unless the category is mandatory", () => {
    const onlyWechat = { categoryKey: 'c', enabled: true, channels: ['in_app', 'wechat'] };
    assert.deepEqual(fallbackSummary({ preference: onlyWechat }), [
      'in_app:queued',
      'wechat:suppressed(no-address)',
    ]);
    assert.deepEqual(
      fallbackSummary({ category: { ...wechatFirst, mandatory: true }, preference: onlyWechat }),
      ['in_app:queued', 'wechat:suppressed(no-address)', 'sms:queued<-wechat'],
    );
    const withSms = { categoryKey: 'c', enabled: true, channels: ['wechat', 'sms'] };
    assert.deepEqual(fallbackSummary({ preference: withSms }), [
      'wechat:suppressed(no-address)',
      'sms:queued',
    ]);
  });

  it('plans nothing for a user who turned the category off', () => {
    assert.deepEqual(
      fallbackSummary({ preference: { categoryKey: 'c', enabled: false, channels: null } }),
      ['in_app:suppressed(opted-out)', 'wechat:suppressed(opted-out)'],
    );
  });
});
