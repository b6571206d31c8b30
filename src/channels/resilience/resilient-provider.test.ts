import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { FakeClock } from '../../../test/support/fake-clock.js';
import { resilientProvider } from './resilient-provider.js';
import { ScriptedProvider, testMessages } from '../../../test/support/scripted-provider.js';

describe('resilientProvider', () => {
  it('a hang trips the breaker via the timeout, then traffic fails over', async () => {
    const clock = new FakeClock();
    const primary = new ScriptedProvider('sms-a', [], clock, 'hang');
    const secondary = new ScriptedProvider('sms-b', [], clock);
    const sms = resilientProvider({
      name: 'sms',
      clock,
      providers: [
        {
          provider: primary,
          priority: 1,
          timeoutMs: 2_000,
          breaker: { failures: 2, coolDownMs: 30_000 },
          rate: 50,
          concurrency: 4,
        },
        { provider: secondary, priority: 2 },
      ],
    });
    assert.equal(sms.name, 'sms');
    for (let i = 0; i < 2; i++) {
      const pending = sms.send(testMessages(1));
      await clock.advance(2_000);
      const [outcome] = await pending;
      assert.equal(outcome?.ok && outcome.providerMessageId?.split(':')[0], 'sms-b');
    }
    const [fast] = await sms.send(testMessages(3));
    assert.equal(fast?.ok, true, 'answered without waiting for a timeout');
    assert.equal(primary.calls.length, 2);
    assert.equal(secondary.received, 5);
  });

  it('a 429 on the primary pauses it (no call before Retry-After) while the secondary serves', async () => {
    const clock = new FakeClock();
    const primary = new ScriptedProvider('sms-a', [{ retryAfterMs: 10_000 }], clock);
    const secondary = new ScriptedProvider('sms-b', [], clock);
    const sms = resilientProvider({
      name: 'sms',
      clock,
      providers: [
        { provider: primary, priority: 1, rate: 100, burst: 100 },
        { provider: secondary, priority: 2 },
      ],
    });
    await sms.send(testMessages(1));
    await clock.advance(9_999);
    await sms.send(testMessages(1));
    assert.equal(primary.calls.length, 1);
    await clock.advance(1);
    const [outcome] = await sms.send(testMessages(1));
    assert.equal(outcome?.ok && outcome.providerMessageId, 'sms-a:m1');
  });

  it('closes every provider', async () => {
    let closed = 0;
    const provider = (name: string) => ({
      name,
      send: async () => [],
      close: async () => void closed++,
    });
    const sms = resilientProvider({
      name: 'sms',
      providers: [
        { provider: provider('a'), priority: 1, timeoutMs: 10, concurrency: 1, rate: 1 },
        { provider: provider('b'), priority: 2, breaker: { failures: 1, coolDownMs: 1 } },
      ],
    });
    await sms.close();
    assert.equal(closed, 2);
  });
});
