import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../test/support/fake-clock.js';
import { ScriptedProvider, testMessages } from '../../../test/support/scripted-provider.js';
import { TimeoutProvider } from './timeout-provider.js';

describe('TimeoutProvider', () => {
  it('a hang is cut by the timeout', async () => {
    const clock = new FakeClock();
    const inner = new ScriptedProvider('sms', ['hang'], clock);
    const timed = new TimeoutProvider(inner, 5_000, clock);
    let settled = false;
    const pending = timed.send(testMessages(2)).finally(() => (settled = true));
    await clock.advance(4_999);
    assert.equal(settled, false);
    await clock.advance(1);
    const outcomes = await pending;
    assert.equal(outcomes.length, 2);
    for (const o of outcomes) {
      assert.equal(o.ok, false);
      if (!o.ok) {
        assert.equal(o.error.kind, 'transient');
        assert.match(o.error.message, /^timeout after 5000 ms/);
      }
    }
  });

  it('returns a timely answer and cancels its timer', async () => {
    const clock = new FakeClock();
    const inner = new ScriptedProvider('sms', ['permanent'], clock);
    const timed = new TimeoutProvider(inner, 5_000, clock);
    const [outcome] = await timed.send(testMessages(1));
    assert.equal(outcome?.ok === false && outcome.error.kind, 'permanent');
    await clock.advance(10_000);
  });

  it('ignores a late result', async () => {
    const clock = new FakeClock();
    const inner = new ScriptedProvider('sms', ['held'], clock);
    const timed = new TimeoutProvider(inner, 100, clock);
    const pending = timed.send(testMessages(1));
    await clock.advance(100);
    inner.release();
    const [outcome] = await pending;
    assert.equal(outcome?.ok, false);
  });
});
