import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import { FakeClock } from '../../test/support/fake-clock.js';
import { ScriptedProvider, testMessages, type Step } from '../../test/support/scripted-provider.js';
import type { Db } from '../store/database.js';
import type { ChannelProvider } from '../channels/channel-provider.js';
import { ConfiguredProviders } from './configured-providers.js';
import {
  deleteProviderConfig,
  insertProviderConfig,
  updateProviderConfig,
  type ProviderConfig,
  type ProviderConfigInput,
} from './providers-store.js';

const hook = (name: string, over: Partial<ProviderConfigInput> = {}): ProviderConfigInput => ({
  name,
  kind: 'webhook',
  priority: 0,
  weight: 1,
  enabled: true,
  settings: { url: `https://${name}.example.edu.cn/hook` },
  secrets: { signingSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
  limits: {},
  ...over,
});

/** A signal the test fires by hand, standing in for the cross-thread broadcast. */
class Signal {
  private listener: (() => void) | null = null;
  subscribe(listener: () => void) {
    this.listener = listener;
    return () => (this.listener = null);
  }
  fire() {
    this.listener?.();
  }
}

describe('configured providers', () => {
  let fresh: FreshDatabase;
  let db: Db;
  let clock: FakeClock;
  let signal: Signal;
  let built: { config: ProviderConfig; provider: ScriptedProvider; closed: boolean }[];
  let scripts: Map<string, Step[]>;
  let live: ConfiguredProviders;

  beforeEach(async () => {
    fresh = await freshDatabase('configured-providers');
    db = fresh.db;
    clock = new FakeClock(Date.now());
    signal = new Signal();
    built = [];
    scripts = new Map();
    live = new ConfiguredProviders({
      db,
      clock,
      checkIntervalMs: 3_600_000,
      changes: signal,
      factory: (config) => {
        if (config.name === 'broken') throw new Error('cannot build smtp://u:hunter2@relay');
        const provider = new ScriptedProvider(config.name, scripts.get(config.name) ?? []);
        const entry = { config, provider, closed: false };
        built.push(entry);
        return Object.assign(provider, {
          close: async () => {
            entry.closed = true;
          },
        });
      },
    });
  });
  afterEach(async () => {
    await live.close();
    await fresh.close();
  });

  const insert = (input: ProviderConfigInput) =>
    db.transaction().execute((tx) => insertProviderConfig(tx, input, Date.now()));
  const update = (name: string, change: Partial<ProviderConfigInput>) =>
    db.transaction().execute(async (tx) => {
      const base = hook(name);
      const { priority, weight, enabled, settings, secrets, limits } = { ...base, ...change };
      return updateProviderConfig(
        tx,
        name,
        { priority, weight, enabled, settings, secrets, limits },
        Date.now(),
      );
    });
  /** Signals the change and waits until it is applied. */
  const changed = async () => {
    signal.fire();
    await live.refresh();
  };
  const send = async (p: ChannelProvider | null) => {
    assert.ok(p, 'a provider serves the channel');
    return (await p.send(testMessages(1)))[0]!;
  };

  it('serves each channel from its enabled configurations', async () => {
    await insert(hook('campus-app'));
    await insert(hook('off', { enabled: false }));
    await live.refresh();
    assert.equal(live.providerFor('webhook')?.name, 'campus-app');
    assert.equal(live.providerFor('email'), null);
    assert.deepEqual(
      built.map((b) => b.config.name),
      ['campus-app'],
    );
    assert.deepEqual(await send(live.providerFor('webhook')), {
      ok: true,
      status: 'sent',
      providerMessageId: 'm1',
    });
  });

  it('puts several configurations of a channel behind one failover, by priority', async () => {
    scripts.set('primary', ['transient']);
    await insert(hook('secondary', { priority: 5 }));
    await insert(hook('primary', { priority: 1 }));
    await live.refresh();
    const p = live.providerFor('webhook');
    assert.equal(p?.name, 'failover(primary,secondary)');
    assert.deepEqual(await send(p), {
      ok: true,
      status: 'sent',
      providerMessageId: 'secondary:m1',
    });
  });

  it('checks the database at most once per interval unless a change is signalled', async () => {
    await live.refresh();
    assert.equal(live.providerFor('webhook'), null);
    await insert(hook('campus-app'));
    await live.refresh();
    assert.equal(live.providerFor('webhook'), null, 'not checked again within the interval');
    await changed();
    assert.equal(live.providerFor('webhook')?.name, 'campus-app');
  });

  it('rebuilds only what changed: breaker state survives a priority change', async () => {
    scripts.set('campus-app', ['transient', 'transient']);
    await insert(hook('campus-app', { limits: { breaker: { failures: 2, coolDownMs: 60_000 } } }));
    await insert(hook('other', { priority: 9 }));
    await live.refresh();
    const before = built.find((b) => b.config.name === 'campus-app')!.provider;
    // Two transient failures open the breaker of campus-app (the failover then uses `other`).
    await send(live.providerFor('webhook'));
    await send(live.providerFor('webhook'));
    assert.deepEqual(live.circuits(), [
      { channel: 'webhook', provider: 'campus-app', state: 'open' },
      { channel: 'webhook', provider: 'other', state: 'closed' },
    ]);

    await update('campus-app', {
      priority: 3,
      limits: { breaker: { failures: 2, coolDownMs: 60_000 } },
    });
    await changed();
    assert.equal(built.length, 2, 'nothing rebuilt');
    assert.equal(live.circuits()[0]!.state, 'open', 'the open circuit is still open');
    const calls = before.calls.length;
    await send(live.providerFor('webhook'));
    assert.equal(before.calls.length, calls, 'the open circuit still keeps calls away');

    // A change of what the provider does rebuilds it, with a fresh breaker.
    await update('campus-app', { settings: { url: 'https://moved.example.edu.cn/hook' } });
    await changed();
    assert.equal(built.length, 3);
    assert.equal(built[2]!.config.settings.url, 'https://moved.example.edu.cn/hook');
    assert.equal(live.circuits()[0]!.state, 'closed');
    await live.close();
    assert.ok(built.every((b) => b.closed));
  });

  it('closes a replaced provider only after its sends in flight have finished', async () => {
    scripts.set('campus-app', ['held']);
    await insert(hook('campus-app'));
    await live.refresh();
    const old = built[0]!;
    const inFlight = send(live.providerFor('webhook'));
    await clock.advance(0);
    await db.transaction().execute((tx) => deleteProviderConfig(tx, 'campus-app', Date.now()));
    await changed();
    assert.equal(live.providerFor('webhook'), null, 'no longer served');
    assert.equal(old.closed, false, 'still sending: not closed yet');
    old.provider.release();
    assert.equal((await inFlight).ok, true, 'the send in flight completes');
    await clock.advance(0);
    assert.equal(old.closed, true);
  });

  it('counts a batch its concurrency cap holds back as in flight: a replacement waits for all of it', async () => {
    scripts.set('campus-app', ['held']);
    await insert(hook('campus-app', { limits: { concurrency: 1 } }));
    await live.refresh();
    const old = built[0]!;
    const closedAtCall: boolean[] = [];
    const send = old.provider.send.bind(old.provider);
    old.provider.send = (batch) => {
      closedAtCall.push(old.closed);
      return send(batch);
    };
    // Two messages, one at a time: the second waits in the cap while the first is held.
    const batch = live.providerFor('webhook')!.send(testMessages(2));
    await clock.advance(0);
    await update('campus-app', {
      settings: { url: 'https://moved.example.edu.cn/hook' },
      limits: { concurrency: 1 },
    });
    await changed();
    assert.equal(built.length, 2, 'replaced');
    old.provider.release();
    const outcomes = await batch;
    assert.deepEqual(
      outcomes.map((o) => o.ok),
      [true, true],
    );
    assert.deepEqual(closedAtCall, [false, false], 'both reached the provider before it closed');
    await clock.advance(0);
    assert.equal(old.closed, true);
  });

  it('leaves out a configuration that cannot be built, and serves the others', async () => {
    const logged: unknown[] = [];
    const log = {
      error: (obj: unknown) => logged.push(obj),
      info: () => undefined,
      warn: () => undefined,
    };
    await live.close();
    live = new ConfiguredProviders({
      db,
      clock,
      log: log as never,
      factory: (config) => {
        if (config.name === 'broken') throw new Error('cannot build smtp://u:hunter2@relay');
        return new ScriptedProvider(config.name);
      },
    });
    await insert(hook('broken', { priority: 0 }));
    await insert(hook('fine', { priority: 1 }));
    await live.refresh();
    assert.equal(live.providerFor('webhook')?.name, 'fine');
    assert.equal(logged.length, 1);
    assert.ok(!JSON.stringify(logged).includes('hunter2'), 'no credentials in the log');
    assert.match(JSON.stringify(logged), /"provider":"broken"/);
  });
});
