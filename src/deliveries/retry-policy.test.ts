import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { backoffMs, decideRetry } from './retry-policy.js';
import { DeliveryError } from '../channels/channel-provider.js';

const opts = { baseMs: 1000, capMs: 60_000 };

describe('retry policy', () => {
  it('doubles the backoff window per attempt, with half of it jittered', () => {
    assert.equal(
      backoffMs(1, opts, () => 0),
      500,
    );
    assert.equal(
      backoffMs(1, opts, () => 1),
      1000,
    );
    assert.equal(
      backoffMs(3, opts, () => 0),
      2000,
    );
    assert.equal(
      backoffMs(3, opts, () => 1),
      4000,
    );
  });

  it('never waits longer than the cap', () => {
    assert.equal(
      backoffMs(30, opts, () => 1),
      60_000,
    );
  });

  it('fails a permanent error at once', () => {
    assert.deepEqual(decideRetry(new DeliveryError('550', 'permanent'), 1, 5, 0, opts), {
      kind: 'failed',
    });
  });

  it('retries a transient error until the attempt limit, then dead-letters', () => {
    const e = new DeliveryError('timeout', 'transient');
    assert.equal(decideRetry(e, 4, 5, 0, opts, () => 0).kind, 'retry');
    assert.deepEqual(decideRetry(e, 5, 5, 0, opts), { kind: 'dead' });
  });

  it('never retries before a provider-given Retry-After', () => {
    const d = decideRetry(new DeliveryError('429', 'transient', 30_000), 1, 5, 1000, opts, () => 0);
    assert.deepEqual(d, { kind: 'retry', at: 31_000 });
  });
});
