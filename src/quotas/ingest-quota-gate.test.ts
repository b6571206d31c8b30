import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IngestQuotaGate, type QuotaSnapshot, type QuotaSubject } from './ingest-quota-gate.js';

const NOW = Date.parse('2025-09-01T08:00:00Z'); // 16:00 in Shanghai
const jwc: QuotaSubject = { sourceId: 's1', sourceKey: 'jwc', quotas: { sms: 100, wechat: 0 } };
const snapshot = (used: Record<string, number>): QuotaSnapshot => ({
  now: NOW,
  day: '2025-09-01',
  usage: new Map([['s1', new Map(Object.entries(used))]]),
});

describe('the ingest quota gate', () => {
  it('lets a message through while its channels have quota left', () => {
    const gate = new IngestQuotaGate('Asia/Shanghai');
    assert.equal(gate.check(snapshot({ sms: 99 }), jwc, ['sms', 'email'], NOW), null);
    assert.equal(gate.check(snapshot({}), jwc, ['in_app'], NOW), null);
    assert.equal(
      gate.check(snapshot({ sms: 500 }), { ...jwc, quotas: {} }, ['sms'], NOW),
      null,
      'no quotas, no limit',
    );
  });

  it('refuses with 429 quota-exceeded, naming source, channel, limit and reset', () => {
    const refused: string[] = [];
    const gate = new IngestQuotaGate('Asia/Shanghai', (s, c) => refused.push(`${s}/${c}`));
    const problem = gate.check(snapshot({ sms: 100 }), jwc, ['email', 'sms'], NOW);
    assert.ok(problem);
    assert.equal(problem.status, 429);
    assert.equal(problem.code, 'quota-exceeded');
    assert.match(problem.detail!, /"jwc".*sms quota of 100.*2025-09-01T16:00:00\.000Z/);
    assert.deepEqual(problem.extensions, {
      source: 'jwc',
      channel: 'sms',
      limit: 100,
      used: 100,
      resetsAt: '2025-09-01T16:00:00.000Z',
    });
    assert.equal(problem.headers['Retry-After'], String(8 * 3600), 'seconds until midnight');
    assert.deepEqual(refused, ['jwc/sms']);
  });

  it('treats a quota of 0 as a closed channel, with no usage row at all', () => {
    const gate = new IngestQuotaGate('Asia/Shanghai');
    assert.equal(gate.check(snapshot({}), jwc, ['wechat'], NOW)?.code, 'quota-exceeded');
  });

  it('does not judge a message scheduled for another day by today', () => {
    const gate = new IngestQuotaGate('Asia/Shanghai');
    const tomorrow = Date.parse('2025-09-01T16:00:00Z');
    assert.equal(gate.check(snapshot({ sms: 100 }), jwc, ['sms'], tomorrow), null);
    const laterToday = Date.parse('2025-09-01T15:00:00Z');
    assert.equal(gate.check(snapshot({ sms: 100 }), jwc, ['sms'], laterToday)?.status, 429);
  });
});
