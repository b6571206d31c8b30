import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CircuitBreakerProvider } from './circuit-breaker-provider.js';
import { FakeClock } from '../../../test/support/fake-clock.js';
import { ScriptedProvider, testMessages } from '../../../test/support/scripted-provider.js';

function setup(script: ConstructorParameters<typeof ScriptedProvider>[1]) {
  const clock = new FakeClock();
  const inner = new ScriptedProvider('sms', script, clock);
  const breaker = new CircuitBreakerProvider(inner, {
    failureThreshold: 3,
    coolDownMs: 10_000,
    clock,
  });
  return { clock, inner, breaker };
}

describe('CircuitBreakerProvider', () => {
  it('opens after N consecutive transient failures and answers without calling', async () => {
    const { clock, inner, breaker } = setup(['transient', 'transient', 'ok', 'transient']);
    await breaker.send(testMessages(1));
    await breaker.send(testMessages(1));
    await breaker.send(testMessages(1)); // the success resets the count
    assert.equal(breaker.state, 'closed');
    await breaker.send(testMessages(3)); // three transient outcomes in one batch
    assert.equal(breaker.state, 'open');
    const calls = inner.calls.length;
    await clock.advance(4_000);
    const [outcome] = await breaker.send(testMessages(1));
    assert.equal(inner.calls.length, calls);
    assert.ok(outcome && !outcome.ok);
    assert.equal(outcome.error.kind, 'transient');
    assert.equal(outcome.error.retryAfterMs, 6_000);
    assert.equal(outcome.error.notAttempted, true, 'held back: it uses no attempt');
  });

  it('half-open lets one probe through; success closes', async () => {
    const { clock, inner, breaker } = setup(['transient', 'transient', 'transient', 'ok']);
    for (let i = 0; i < 3; i++) await breaker.send(testMessages(1));
    assert.equal(breaker.state, 'open');
    await clock.advance(10_000);
    assert.equal(breaker.state, 'half-open');
    const outcomes = await breaker.send(testMessages(4));
    assert.deepEqual(inner.calls.at(-1)?.ids, ['d1'], 'a probe of one message');
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [true, false, false, false],
    );
    assert.equal(breaker.state, 'closed');
    await breaker.send(testMessages(4));
    assert.equal(inner.calls.at(-1)?.ids.length, 4);
  });

  it('a failed probe re-opens for another cool-down; concurrent calls wait for the probe', async () => {
    const { clock, inner, breaker } = setup(['transient', 'transient', 'transient', 'held']);
    for (let i = 0; i < 3; i++) await breaker.send(testMessages(1));
    await clock.advance(10_000);
    const probe = breaker.send(testMessages(1));
    const [meanwhile] = await breaker.send(testMessages(1));
    assert.equal(meanwhile?.ok, false);
    assert.equal(inner.calls.length, 4);
    inner.release();
    await probe;
    assert.equal(breaker.state, 'closed');

    const again = setup(Array<'transient'>(4).fill('transient'));
    for (let i = 0; i < 3; i++) await again.breaker.send(testMessages(1));
    await again.clock.advance(10_000);
    await again.breaker.send(testMessages(2));
    assert.equal(again.breaker.state, 'open');
    assert.equal(again.inner.received, 4);
    const [outcome] = await again.breaker.send(testMessages(1));
    assert.equal(outcome?.ok === false && outcome.error.retryAfterMs, 10_000);
  });

  it('a permanent error counts as the provider answering', async () => {
    const { breaker } = setup(['transient', 'transient', 'permanent', 'transient', 'transient']);
    for (let i = 0; i < 5; i++) await breaker.send(testMessages(1));
    assert.equal(breaker.state, 'closed');
  });
});
