import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { fallbackMapProblem } from './channel-fallbacks.js';

describe('channel fallback maps', () => {
  it('accepts chains and in_app as a last resort', () => {
    assert.equal(fallbackMapProblem({}), null);
    assert.equal(fallbackMapProblem({ wechat: 'sms' }), null);
    assert.equal(fallbackMapProblem({ wechat: 'sms', sms: 'in_app', wecom: 'in_app' }), null);
  });

  it('refuses a channel falling back to itself', () => {
    assert.match(fallbackMapProblem({ sms: 'sms' })!, /sms falls back to itself/);
  });

  it('refuses cycles, naming them', () => {
    assert.match(
      fallbackMapProblem({ wechat: 'sms', sms: 'wechat' })!,
      /cycle: wechat → sms → wechat/,
    );
    assert.match(
      fallbackMapProblem({ email: 'in_app', wechat: 'sms', sms: 'wecom', wecom: 'wechat' })!,
      /cycle: wechat → sms → wecom → wechat/,
    );
  });
});
