import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { nextQuotaReset, quotaDay } from './quota-day.js';

const at = (iso: string) => Date.parse(iso);

describe('the quota day', () => {
  it('is the calendar day of the campus timezone, turning at its midnight', () => {
    // Asia/Shanghai is UTC+8: its midnight is 16:00 UTC of the day before.
    assert.equal(quotaDay(at('2025-09-01T15:59:59.999Z'), 'Asia/Shanghai'), '2025-09-01');
    assert.equal(quotaDay(at('2025-09-01T16:00:00.000Z'), 'Asia/Shanghai'), '2025-09-02');
    assert.equal(quotaDay(at('2025-09-01T16:00:00.000Z'), 'UTC'), '2025-09-01');
    assert.equal(quotaDay(at('2025-12-31T16:30:00Z'), 'Asia/Shanghai'), '2026-01-01');
  });

  it('resets at the next campus midnight, to the millisecond', () => {
    assert.equal(
      nextQuotaReset(at('2025-09-01T08:00:00Z'), 'Asia/Shanghai'),
      at('2025-09-01T16:00:00Z'),
    );
    assert.equal(
      nextQuotaReset(at('2025-09-01T15:59:59.999Z'), 'Asia/Shanghai'),
      at('2025-09-01T16:00:00Z'),
    );
    // Exactly at midnight the new day has begun: the next reset is a day later.
    assert.equal(
      nextQuotaReset(at('2025-09-01T16:00:00Z'), 'Asia/Shanghai'),
      at('2025-09-02T16:00:00Z'),
    );
  });

  it('follows daylight-saving changes, even a skipped midnight', () => {
    // New York springs forward at 02:00 on 9 March 2025: 10 March starts at 04:00 UTC (EDT).
    assert.equal(
      nextQuotaReset(at('2025-03-09T12:00:00Z'), 'America/New_York'),
      at('2025-03-10T04:00:00Z'),
    );
    // Santiago skipped 00:00 on 8 September 2024 (clocks went to 01:00 -03): the day began
    // at 04:00 UTC.
    assert.equal(quotaDay(at('2024-09-08T03:59:59Z'), 'America/Santiago'), '2024-09-07');
    assert.equal(
      nextQuotaReset(at('2024-09-07T16:00:00Z'), 'America/Santiago'),
      at('2024-09-08T04:00:00Z'),
    );
  });
});
