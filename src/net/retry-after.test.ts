import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { retryAfterDelay } from './retry-after.js';

const NOW = Date.parse('2025-09-01T08:00:00Z');

describe('Retry-After', () => {
  it('reads delay-seconds', () => {
    assert.equal(retryAfterDelay('0', NOW), 0);
    assert.equal(retryAfterDelay(' 120 ', NOW), 120_000);
  });

  it('reads an HTTP-date relative to now, past ones as 0 or less', () => {
    assert.equal(retryAfterDelay('Mon, 01 Sep 2025 08:01:00 GMT', NOW), 60_000);
    assert.equal(retryAfterDelay('Mon, 01 Sep 2025 07:59:00 GMT', NOW), -60_000);
  });

  it('is null for what is neither', () => {
    for (const value of [undefined, '', ' ', 'soon', '-5', '+5', '5.5', '12-31-2099']) {
      assert.equal(retryAfterDelay(value, NOW), null, JSON.stringify(value));
    }
  });
});
