import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../test/support/fake-clock.js';
import { RateLimitedProvider } from './rate-limited-provider.js';
import { ScriptedProvider, testMessages } from '../../../test/support/scripted-provider.js';

describe('RateLimitedProvider', () => {
  it('the rate limit answers retryAfterMs instead of sending', async () => {
    const clock = new FakeClock();
    const inner = new ScriptedProvider('sms', [], clock);
    const limited = new RateLimitedProvider(inner, { ratePerSecond: 2, burst: 3, clock });

    const outcomes = await limited.send(testMessages(5));
    assert.deepEqual(inner.calls[0]?.ids, ['d1', 'd2', 'd3']);
    assert.deepEqual(
      outcomes.map((o) => (o.ok ? 'ok' : `${o.error.kind}:${o.error.retryAfterMs}`)),
      ['ok', 'ok', 'ok', 'transient:500', 'transient:1000'],
    );

    await clock.advance(499);
    const early = await limited.send(testMessages(1));
    assert.equal(early[0]?.ok, false);
    assert.equal(inner.received, 3);
    await clock.advance(1);
    assert.equal((await limited.send(testMessages(1)))[0]?.ok, true);
    assert.equal(inner.received, 4);
  });

  it('refills up to the burst, not beyond', async () => {
    const clock = new FakeClock();
    const inner = new ScriptedProvider('sms', [], clock);
    const limited = new RateLimitedProvider(inner, { ratePerSecond: 10, burst: 2, clock });
    await clock.advance(60_000);
    const outcomes = await limited.send(testMessages(4));
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [true, true, false, false],
    );
  });

  it('no call before Retry-After', async () => {
    const clock = new FakeClock();
    const inner = new ScriptedProvider('sms', [{ retryAfterMs: 30_000 }], clock);
    const limited = new RateLimitedProvider(inner, { ratePerSecond: 100, burst: 100, clock });

    await limited.send(testMessages(1));
    assert.equal(inner.calls.length, 1);
    for (const step of [1_000, 10_000, 18_999]) {
      await clock.advance(step);
      const [outcome] = await limited.send(testMessages(2));
      assert.equal(outcome?.ok, false);
      if (!outcome?.ok) assert.equal(outcome?.error.retryAfterMs, 30_000 - clock.elapsed());
    }
    assert.equal(inner.calls.length, 1, 'no call during the pause');
    await clock.advance(1);
    assert.equal((await limited.send(testMessages(1)))[0]?.ok, true);
    assert.equal(inner.calls.length, 2);
    assert.equal(inner.calls[1]?.at, (inner.calls[0]?.at ?? 0) + 30_000);
  });

  it('passes an empty batch through without a call', async () => {
    const inner = new ScriptedProvider('sms');
    const limited = new RateLimitedProvider(inner, { ratePerSecond: 1, burst: 1 });
    assert.deepEqual(await limited.send([]), []);
    assert.equal(inner.calls.length, 0);
  });
});
