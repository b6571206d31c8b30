import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';
import { testMessages } from '../../test/support/scripted-provider.js';
import { effectiveLimits } from './provider-kinds.js';
import { providerFactory, resilientMember, smtpUrl } from './provider-factory.js';
import type { ProviderConfig } from './providers-store.js';

const PASSWORD = 'p@ss:w/rd%41 ü#?';

function smtpConfig(port: number, over: Partial<ProviderConfig['settings']> = {}): ProviderConfig {
  return {
    id: 'p1',
    name: 'relay-a',
    kind: 'smtp',
    channel: 'email',
    priority: 0,
    weight: 1,
    enabled: true,
    settings: {
      url: `smtp://127.0.0.1:${port}`,
      user: 'herald@example.edu.cn',
      from: 'Herald <noreply@example.edu.cn>',
      replyTo: 'helpdesk@example.edu.cn',
      ...over,
    },
    secrets: { password: PASSWORD },
    limits: {},
    createdAt: 0,
    updatedAt: 0,
    fingerprint: 'x',
  };
}

describe('provider factory', () => {
  let server: SMTPServer;
  let port: number;
  const logins: { user: string; pass: string }[] = [];
  const mails: string[] = [];

  before(async () => {
    server = new SMTPServer({
      secure: false,
      allowInsecureAuth: true,
      authMethods: ['PLAIN', 'LOGIN'],
      disabledCommands: ['STARTTLS'],
      logger: false,
      onAuth(auth, _session, callback) {
        logins.push({ user: auth.username ?? '', pass: auth.password ?? '' });
        if (auth.password !== PASSWORD) return callback(new Error('Invalid credentials'));
        callback(null, { user: auth.username });
      },
      onData(stream, _session, callback) {
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          mails.push(Buffer.concat(chunks).toString('utf8'));
          callback(null);
        });
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const factory = providerFactory({ allowCidrs: [], publicUrl: 'https://msg.example.edu.cn' });

  it('logs in to the relay with the configured user and password, whatever their characters', async () => {
    const provider = factory(smtpConfig(port));
    try {
      assert.equal(provider.name, 'relay-a');
      const [message] = testMessages(1).map((m) => ({
        ...m,
        channel: 'email' as const,
        address: 'student@example.edu.cn',
        content: { subject: 'Hi', body: 'Hello' },
      }));
      const [outcome] = await provider.send([message!]);
      assert.equal(outcome?.ok, true, JSON.stringify(outcome));
      assert.deepEqual(logins.at(-1), { user: 'herald@example.edu.cn', pass: PASSWORD });
      const mail = await simpleParser(mails.at(-1)!);
      assert.equal(mail.from?.value[0]?.address, 'noreply@example.edu.cn');
      assert.equal(mail.replyTo?.value[0]?.address, 'helpdesk@example.edu.cn');
    } finally {
      await provider.close?.();
    }
  });

  it('a Reply-To of the source or category wins over the provider default', async () => {
    const provider = factory(smtpConfig(port));
    try {
      const [message] = testMessages(1).map((m) => ({
        ...m,
        channel: 'email' as const,
        address: 'student@example.edu.cn',
        sender: { replyTo: 'jwc@example.edu.cn' },
        content: { subject: 'Hi', body: 'Hello' },
      }));
      assert.equal((await provider.send([message!]))[0]?.ok, true);
      const mail = await simpleParser(mails.at(-1)!);
      assert.equal(mail.replyTo?.value[0]?.address, 'jwc@example.edu.cn');
    } finally {
      await provider.close?.();
    }
  });

  it('puts credentials into the relay URL percent-encoded, and leaves a URL alone without a user', () => {
    assert.equal(smtpUrl('smtps://relay.example.edu.cn:465'), 'smtps://relay.example.edu.cn:465');
    const url = new URL(smtpUrl('smtp://relay:587', 'a@b', 'x:y@z%'));
    assert.equal(decodeURIComponent(url.username), 'a@b');
    assert.equal(decodeURIComponent(url.password), 'x:y@z%');
  });

  it('builds a webhook provider named after the configuration', () => {
    const provider = factory({
      ...smtpConfig(port),
      kind: 'webhook',
      channel: 'webhook',
      name: 'campus-app',
      settings: { url: 'https://app.example.edu.cn/hook' },
      secrets: { signingSecret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw' },
    });
    assert.equal(provider.name, 'campus-app');
    void provider.close?.();
  });

  it('guards every member with its limits over the kind defaults', () => {
    const webhook = { ...smtpConfig(port), kind: 'webhook' as const, channel: 'webhook' as const };
    assert.deepEqual(effectiveLimits('webhook', {}, {}), {
      concurrency: 16,
      timeoutMs: 10_000,
      breaker: { failures: 5, coolDownMs: 30_000 },
    });
    assert.deepEqual(effectiveLimits('smtp', { maxConnections: 3 }, { timeoutMs: 20_000 }), {
      concurrency: 3,
      timeoutMs: 20_000,
      breaker: { failures: 5, coolDownMs: 30_000 },
    });
    const member = resilientMember(
      {
        ...webhook,
        settings: { url: 'https://x.example.edu.cn' },
        secrets: {},
        priority: 2,
        weight: 3,
        limits: { ratePerSecond: 5, burst: 10, breaker: { failures: 2, coolDownMs: 1_000 } },
      },
      { name: 'x', send: async () => [] },
    );
    assert.deepEqual(
      { ...member, provider: member.provider.name },
      {
        provider: 'x',
        priority: 2,
        weight: 3,
        rate: 5,
        burst: 10,
        concurrency: 16,
        timeoutMs: 10_000,
        breaker: { failures: 2, coolDownMs: 1_000 },
      },
    );
  });
});
