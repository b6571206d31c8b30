import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreakerProvider } from './circuit-breaker-provider.js';
import { FakeClock } from '../../../test/support/fake-clock.js';
import { FailoverProvider, splitProviderMessageId } from './failover-provider.js';
import { ScriptedProvider, testMessages } from '../../../test/support/scripted-provider.js';

/** mulberry32: a tiny seeded generator, so the weighted test is reproducible. */
function seeded(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('FailoverProvider', () => {
  it('uses the primary while healthy and names the sender in providerMessageId', async () => {
    const primary = new ScriptedProvider('relay-a');
    const secondary = new ScriptedProvider('relay-b');
    const failover = new FailoverProvider([
      { provider: secondary, priority: 2 },
      { provider: primary, priority: 1 },
    ]);
    assert.equal(failover.name, 'failover(relay-b,relay-a)');
    const [outcome] = await failover.send(testMessages(1));
    assert.ok(outcome?.ok);
    assert.equal(outcome.providerMessageId, 'relay-a:m1');
    assert.deepEqual(splitProviderMessageId('relay-a:m1'), { provider: 'relay-a', id: 'm1' });
    assert.equal(secondary.calls.length, 0);
  });

  it('the circuit opens after N transient failures and fails over to the secondary', async () => {
    const clock = new FakeClock();
    const primary = new ScriptedProvider('sms-a', [], clock, 'transient');
    const breaker = new CircuitBreakerProvider(primary, {
      failureThreshold: 3,
      coolDownMs: 60_000,
      clock,
    });
    const secondary = new ScriptedProvider('sms-b', [], clock);
    const failover = new FailoverProvider(
      [
        { provider: breaker, priority: 1 },
        { provider: secondary, priority: 2 },
      ],
      { clock },
    );
    for (let i = 0; i < 3; i++) {
      const [outcome] = await failover.send(testMessages(1, `x${i}-`));
      assert.ok(outcome?.ok);
      assert.match(outcome.providerMessageId ?? '', /^sms-b:/);
    }
    assert.equal(breaker.state, 'open');
    assert.equal(primary.calls.length, 3);

    const outcomes = await failover.send(testMessages(5));
    assert.ok(outcomes.every((o) => o.ok && o.providerMessageId?.startsWith('sms-b:')));
    assert.equal(primary.calls.length, 3, 'no call to the primary while its circuit is open');
    assert.equal(secondary.received, 8);
  });

  it('a permanent error is not retried on another provider', async () => {
    const primary = new ScriptedProvider('sms-a', ['permanent']);
    const secondary = new ScriptedProvider('sms-b');
    const failover = new FailoverProvider([
      { provider: primary, priority: 1 },
      { provider: secondary, priority: 2 },
    ]);
    const [outcome] = await failover.send(testMessages(1));
    assert.ok(outcome && !outcome.ok);
    assert.equal(outcome.error.kind, 'permanent');
    assert.equal(outcome.error.message, 'sms-a: 400');
    assert.equal(secondary.calls.length, 0);
  });

  it('sends only the transient failures on, in the same call', async () => {
    const first = new ScriptedProvider('a', ['transient']);
    const second = new ScriptedProvider('b', ['ok']);
    const failover = new FailoverProvider([
      { provider: first, priority: 1 },
      { provider: second, priority: 2 },
    ]);
    const outcomes = await failover.send(testMessages(3));
    assert.deepEqual(second.calls[0]?.ids, ['d1', 'd2', 'd3']);
    assert.deepEqual(
      outcomes.map((o) => o.ok && o.providerMessageId),
      ['b:m1', 'b:m2', 'b:m3'],
    );
  });

  it('when all fail transiently, retry when the earliest could take it', async () => {
    const clock = new FakeClock();
    const a = new ScriptedProvider('a', [{ retryAfterMs: 30_000 }], clock);
    const b = new ScriptedProvider('b', [{ retryAfterMs: 5_000 }], clock);
    const failover = new FailoverProvider(
      [
        { provider: a, priority: 1 },
        { provider: b, priority: 2 },
      ],
      { clock },
    );
    const [outcome] = await failover.send(testMessages(1));
    assert.ok(outcome && !outcome.ok);
    assert.equal(outcome.error.kind, 'transient');
    assert.equal(outcome.error.retryAfterMs, 5_000);
    assert.equal(outcome.error.message, 'a: 429; b: 429');
    assert.equal(outcome.error.notAttempted, false, 'both providers were called');

    // Both rest; after 5 s only b is healthy again, so it goes before the primary.
    await clock.advance(5_000);
    const [later] = await failover.send(testMessages(1));
    assert.equal(later?.ok && later.providerMessageId, 'b:m1');
    assert.deepEqual([a.calls.length, b.calls.length], [1, 2]);
  });

  it('a message every member held back (open circuits) used no attempt', async () => {
    const clock = new FakeClock();
    const breakers = ['a', 'b'].map(
      (name) =>
        new CircuitBreakerProvider(new ScriptedProvider(name, ['transient', 'transient'], clock), {
          failureThreshold: 1,
          coolDownMs: 10_000,
          clock,
        }),
    );
    const failover = new FailoverProvider(
      breakers.map((provider, i) => ({ provider, priority: i })),
      { clock },
    );
    const [tried] = await failover.send(testMessages(1)); // opens both circuits
    assert.ok(tried && !tried.ok && !tried.error.notAttempted);
    const [held] = await failover.send(testMessages(1));
    assert.ok(held && !held.ok);
    assert.equal(held.error.notAttempted, true);
    assert.equal(held.error.retryAfterMs, 10_000);
  });

  it('weighted choice between equal priorities follows the weights (with a seeded random)', async () => {
    const heavy = new ScriptedProvider('heavy');
    const light = new ScriptedProvider('light');
    const backup = new ScriptedProvider('backup');
    const failover = new FailoverProvider(
      [
        { provider: heavy, priority: 1, weight: 3 },
        { provider: light, priority: 1, weight: 1 },
        { provider: backup, priority: 2, weight: 100 },
      ],
      { random: seeded(42) },
    );
    for (let i = 0; i < 4_000; i++) await failover.send(testMessages(1));
    const share = heavy.received / 4_000;
    assert.ok(share > 0.72 && share < 0.78, `heavy share ${share}`);
    assert.equal(heavy.received + light.received, 4_000);
    assert.equal(backup.received, 0);
  });
});
