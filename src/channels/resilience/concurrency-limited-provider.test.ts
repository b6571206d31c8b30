import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConcurrencyLimitedProvider } from './concurrency-limited-provider.js';
import { settle } from '../../../test/support/fake-clock.js';
import { ScriptedProvider, testMessages } from '../../../test/support/scripted-provider.js';

describe('ConcurrencyLimitedProvider', () => {
  it('concurrency never exceeds N (measure max in flight)', async () => {
    const inner = new ScriptedProvider('sms', [], undefined, 'held');
    const limited = new ConcurrencyLimitedProvider(inner, 3);
    const sends = [
      limited.send(testMessages(2, 'a')),
      limited.send(testMessages(4, 'b')),
      limited.send(testMessages(1, 'c')),
    ];
    await settle();
    assert.equal(inner.inFlight, 3);
    let releases = 0;
    while (inner.release()) {
      releases++;
      await settle();
      assert.ok(inner.inFlight <= 3);
    }
    const [a, b, c] = await Promise.all(sends);
    assert.equal(inner.maxInFlight, 3);
    assert.equal(inner.received, 7);
    assert.ok(releases >= 3);
    assert.deepEqual([a?.length, b?.length, c?.length], [2, 4, 1]);
    assert.ok([...(a ?? []), ...(b ?? []), ...(c ?? [])].every((o) => o.ok));
  });

  it('serves waiting callers first come, first served', async () => {
    const inner = new ScriptedProvider('sms', [], undefined, 'held');
    const limited = new ConcurrencyLimitedProvider(inner, 1);
    const sends = [
      limited.send(testMessages(1, 'a')),
      limited.send(testMessages(1, 'b')),
      limited.send(testMessages(1, 'c')),
    ];
    while (await settle().then(() => inner.release()));
    await Promise.all(sends);
    assert.deepEqual(
      inner.calls.map((c) => c.ids[0]),
      ['a1', 'b1', 'c1'],
    );
  });

  it('keeps outcomes in batch order across chunks', async () => {
    const inner = new ScriptedProvider('sms', ['ok', 'permanent', 'ok']);
    const limited = new ConcurrencyLimitedProvider(inner, 2);
    const outcomes = await limited.send(testMessages(5));
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [true, true, false, false, true],
    );
  });
});
