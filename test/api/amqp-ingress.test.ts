import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import pino from 'pino';
import { connect, type ChannelModel, type ConfirmChannel, type GetMessage } from 'amqplib';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  startTestHerald,
  type TestHerald,
} from '../support/test-herald.js';
import { TEST_BROKER_URL, skipUnless } from '../support/services.js';
import { AmqpIngress, type AmqpIngressOptions } from '../../src/ingress/amqp-ingress.js';
import { Problem } from '../../src/http/problem.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import { ingressNames, ingressPrefix } from '../../src/ingress/ingress-names.js';
import { deleteBrokerObjects, heraldBrokerObjects, uniqueBrokerPrefix } from '../support/broker.js';

const run = promisify(execFile);
const ROOT = new URL('../../', import.meta.url).pathname;
const ALICE = '2024010101';

const exam = (users: string[] = [ALICE]) => ({
  category: 'exam.reminder',
  to: { users },
  data: DEMO_EXAMPLES['exam.reminder'],
});

/** Why a suite that needs a local tool cannot run (a failure under CI), else false. */
function skipWithout(what: string, probe: () => boolean): string | false {
  if (probe()) return false;
  const reason = `${what} is not available here`;
  if (process.env.CI) throw new Error(`CI is set, so this is a failure: ${reason}`);
  return reason;
}

const noPika = skipWithout(
  "Debian's python3-pika (/usr/bin/python3 -c 'import pika')",
  () => spawnSync('/usr/bin/python3', ['-c', 'import pika']).status === 0,
);
const noRabbitmqctl = skipWithout(
  'rabbitmqctl (to create a RabbitMQ user)',
  () => spawnSync('rabbitmqctl', ['--version'], { stdio: 'ignore' }).status === 0,
);

interface Answer {
  readonly status: number;
  readonly body: Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  readonly contentType: string | undefined;
  readonly headers: Record<string, unknown>;
}

/** Runs an example producer (stdin: `input`); resolves its exit code and output. */
async function runExample(
  command: string,
  args: string[],
  env: Record<string, string>,
  input = '',
): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(command, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  child.stdin.end(input);
  const [code] = (await once(child, 'close')) as [number | null];
  return { code: code ?? -1, stdout, stderr };
}

describe(
  'AMQP ingress: producers publish to herald.ingress',
  { skip: await skipUnless('rabbitmq') },
  () => {
    const prefix = `test.${randomUUID().slice(0, 8)}.ingress`;
    const rabbitUser = `herald-test-${randomUUID().slice(0, 8)}`;
    const rabbitPassword = randomUUID();
    let t: TestHerald;
    let ingress: AmqpIngress;
    let broker: ChannelModel;
    let channel: ConfirmChannel;
    let admin: ReturnType<typeof client>;
    let jwc: ReturnType<typeof client>;
    let userCreated = false;
    /** Rejected copies read so far, by message_id. */
    const rejected = new Map<string, GetMessage>();

    function newIngress(ingest: AmqpIngressOptions['ingest'] = t.herald.ingest): AmqpIngress {
      return new AmqpIngress({
        url: TEST_BROKER_URL,
        db: t.herald.db,
        ingest,
        log: pino({ level: 'silent' }),
        prefix,
        bodyLimitBytes: t.herald.config.bodyLimitBytes,
        reconnect: { initialMs: 100, maxMs: 1000 },
      });
    }

    /** Publishes a message with reply_to + correlation_id and waits for Herald's answer. */
    async function send(
      content: Buffer | string | object,
      props: {
        messageId?: string;
        userId?: string;
        headers?: Record<string, unknown>;
        contentType?: string;
      } = {},
      timeoutMs = 10_000,
    ): Promise<Answer> {
      const replies = await broker.createChannel();
      try {
        const { queue } = await replies.assertQueue('', { exclusive: true });
        const correlationId = randomUUID();
        const answer = new Promise<Answer>((resolve, reject) => {
          const timer = setTimeout(() => reject(new Error('no answer from Herald')), timeoutMs);
          void replies.consume(
            queue,
            (m) => {
              if (!m || m.properties.correlationId !== correlationId) return;
              clearTimeout(timer);
              resolve({
                status: Number(m.properties.headers?.status),
                body: JSON.parse(m.content.toString()) as Answer['body'],
                contentType: m.properties.contentType as string | undefined,
                headers: m.properties.headers ?? {},
              });
            },
            { noAck: true },
          );
        });
        const body =
          Buffer.isBuffer(content) || typeof content === 'string'
            ? Buffer.from(content)
            : Buffer.from(JSON.stringify(content));
        await publish(body, { ...props, replyTo: queue, correlationId });
        return await answer;
      } finally {
        await replies.close().catch(() => undefined);
      }
    }

    function publish(
      body: Buffer,
      props: {
        messageId?: string;
        userId?: string;
        headers?: Record<string, unknown>;
        contentType?: string;
        replyTo?: string;
        correlationId?: string;
      },
    ): Promise<void> {
      return new Promise((resolve, reject) =>
        channel.publish(
          prefix,
          'any.routing.key',
          body,
          { persistent: true, contentType: 'application/json', ...props },
          (err) => (err ? reject(new Error(String(err))) : resolve()),
        ),
      );
    }

    /** The rejected copy of the message with this message_id. */
    function rejectedCopy(messageId: string): Promise<GetMessage> {
      return eventually(
        async () => {
          for (;;) {
            const m = await channel.get(`${prefix}.rejected`, { noAck: true });
            if (m === false) break;
            rejected.set(String(m.properties.messageId), m);
          }
          return rejected.get(messageId);
        },
        10_000,
        `the rejected copy of ${messageId}`,
      );
    }

    async function messagesOf(
      category: string,
    ): Promise<{ id: string; data: unknown; source: string }[]> {
      const res = await admin('GET', `/v1/messages?limit=200&category=${category}`);
      assert.equal(res.status, 200);
      return res.body.items;
    }

    before(async () => {
      t = await startTestHerald();
      admin = client(t.url, ADMIN_TOKEN);
      jwc = client(t.url, t.keys.jwc);
      ingress = newIngress();
      await ingress.start();
      broker = await connect(TEST_BROKER_URL);
      channel = await broker.createConfirmChannel();
    });

    after(async () => {
      await ingress?.stop();
      if (broker) {
        const cleanup = await broker.createChannel();
        await cleanup.deleteQueue(prefix);
        await cleanup.deleteQueue(`${prefix}.rejected`);
        await cleanup.deleteExchange(prefix);
        await broker.close();
      }
      if (userCreated) await run('rabbitmqctl', ['delete_user', rabbitUser]);
      await t?.close();
    });

    it(
      'the Python pika example publishes, gets the acceptance back, and the message is fanned out',
      { skip: noPika },
      async () => {
        const res = await runExample('/usr/bin/python3', ['docs/examples/producer.py'], {
          AMQP_URL: TEST_BROKER_URL,
          INGRESS_EXCHANGE: prefix,
          HERALD_KEY: t.keys.jwc!,
        });
        assert.equal(res.code, 0, res.stderr);
        const answer = JSON.parse(res.stdout) as { id: string; status: string };
        assert.equal(answer.status, 'accepted');
        assert.match(res.stderr, new RegExp(`Accepted as ${answer.id}`));
        const done = await eventually(async () => {
          const m = await jwc('GET', `/v1/messages/${answer.id}`);
          return m.body.status === 'completed' ? m.body : undefined;
        });
        assert.equal(done.source, 'jwc');
        assert.equal(done.category, 'exam.reminder');
        assert.equal(done.recipients, 1);
        assert.equal(done.counts.in_app.delivered, 1);
        assert.deepEqual(done.data, DEMO_EXAMPLES['exam.reminder']);
      },
    );

    it('the Node example does the same with amqplib', async () => {
      const res = await runExample(process.execPath, ['docs/examples/producer.mjs'], {
        AMQP_URL: TEST_BROKER_URL,
        INGRESS_EXCHANGE: prefix,
        HERALD_KEY: t.keys.jwc!,
      });
      assert.equal(res.code, 0, res.stderr);
      const answer = JSON.parse(res.stdout) as { id: string; status: string };
      assert.equal(answer.status, 'accepted');
      const done = await eventually(async () => {
        const m = await jwc('GET', `/v1/messages/${answer.id}`);
        return m.body.status === 'completed' ? m.body : undefined;
      });
      assert.equal(done.recipients, 1);
      assert.equal(done.counts.in_app.delivered, 1);
      const inbox = await eventually(async () => {
        const login = await client(t.url)('POST', '/v1/auth/login', {
          externalId: ALICE,
          password: t.password,
        });
        const items = await client(t.url, login.body.token)('GET', '/v1/me/inbox?limit=50');
        return items.body.items.find((i: { messageId: string }) => i.messageId === answer.id);
      });
      assert.ok(inbox, 'the recipient sees it in the inbox');
    });

    it('an example reports a refused message with the problem and exit status 1', async () => {
      const res = await runExample(
        process.execPath,
        ['docs/examples/producer.mjs', '-'],
        { AMQP_URL: TEST_BROKER_URL, INGRESS_EXCHANGE: prefix, HERALD_KEY: t.keys.jwc! },
        '{"category": "exam.reminder", "to": ',
      );
      assert.equal(res.code, 1, res.stderr);
      const problem = JSON.parse(res.stdout) as { code: string; status: number };
      assert.equal(problem.code, 'malformed-json');
      assert.equal(problem.status, 400);
    });

    it(
      'a RabbitMQ user mapped to a source sends as that source, with only the permissions the docs give',
      { skip: noRabbitmqctl || noPika },
      async () => {
        await run('rabbitmqctl', ['add_user', rabbitUser, rabbitPassword]);
        userCreated = true;
        // As in docs/amqp-ingress.md: write to the ingress exchange, own exclusive reply queues.
        await run('rabbitmqctl', [
          'set_permissions',
          '-p',
          '/',
          rabbitUser,
          '^amq\\.gen-.*',
          `^${prefix.replaceAll('.', '\\.')}$`,
          '^amq\\.gen-.*',
        ]);
        const mapped = await admin('PATCH', '/v1/sources/jwc', { amqpUser: rabbitUser });
        assert.equal(mapped.status, 200);
        assert.equal(mapped.body.amqpUser, rabbitUser);
        const url = new URL(TEST_BROKER_URL);
        url.username = rabbitUser;
        url.password = rabbitPassword;

        const res = await runExample('/usr/bin/python3', ['docs/examples/producer.py'], {
          AMQP_URL: url.toString(),
          INGRESS_EXCHANGE: prefix,
        });
        assert.equal(res.code, 0, res.stderr);
        const answer = JSON.parse(res.stdout) as { id: string };
        const m = await jwc('GET', `/v1/messages/${answer.id}`);
        assert.equal(m.status, 200, 'jwc sees it as its own');
        assert.equal(m.body.source, 'jwc');

        // The broker, not Herald, stops a user from claiming another user_id.
        const spoofer = await connect(url.toString());
        try {
          const ch = await spoofer.createChannel();
          const closed = new Promise<Error>((resolve) => ch.once('error', resolve));
          ch.publish(prefix, '', Buffer.from(JSON.stringify(exam())), { userId: 'guest' });
          assert.match(String((await closed).message), /PRECONDITION_FAILED/);
        } finally {
          await spoofer.close().catch(() => undefined);
        }

        // Another source may not take the same user.
        const clash = await admin('PATCH', '/v1/sources/lib', { amqpUser: rabbitUser });
        assert.equal(clash.status, 409);
        // Unmapped, the same user names no source any more.
        await admin('PATCH', '/v1/sources/jwc', { amqpUser: null });
        const after = await runExample('/usr/bin/python3', ['docs/examples/producer.py'], {
          AMQP_URL: url.toString(),
          INGRESS_EXCHANGE: prefix,
        });
        assert.equal(after.code, 1, after.stderr);
        assert.equal(JSON.parse(after.stdout).code, 'unauthenticated');
      },
    );

    it('an API key in authorization: Bearer works too; a wrong key is refused and never copied', async () => {
      const ok = await send(exam(), { headers: { authorization: `Bearer ${t.keys.hq}` } });
      assert.equal(ok.status, 403, 'hq is identified, and may not send exam.reminder');
      assert.equal(ok.body.code, 'category-not-allowed');

      const forged = `hk_000000000000_${'x'.repeat(43)}`;
      const messageId = randomUUID();
      const bad = await send(exam(), { messageId, headers: { 'x-api-key': forged, trace: 'abc' } });
      assert.equal(bad.status, 401);
      assert.equal(bad.body.code, 'unauthenticated');
      const copy = await rejectedCopy(messageId);
      assert.equal(copy.properties.headers?.['problem-code'], 'unauthenticated');
      assert.equal(copy.properties.headers?.['x-api-key'], undefined, 'the key is not copied');
      assert.equal(copy.properties.headers?.trace, 'abc', 'other headers are kept');
    });

    it('answers through RabbitMQ direct reply-to as well', async () => {
      const direct = await broker.createChannel();
      try {
        const answer = new Promise<{ status: number; id: string }>((resolve) => {
          void direct.consume(
            'amq.rabbitmq.reply-to',
            (m) =>
              m &&
              resolve({
                status: Number(m.properties.headers?.status),
                id: (JSON.parse(m.content.toString()) as { id: string }).id,
              }),
            { noAck: true },
          );
        });
        direct.publish(prefix, 'exam.reminder', Buffer.from(JSON.stringify(exam())), {
          replyTo: 'amq.rabbitmq.reply-to',
          correlationId: 'direct-1',
          headers: { 'x-api-key': t.keys.jwc },
        });
        const { status, id } = await answer;
        assert.equal(status, 202);
        assert.equal((await jwc('GET', `/v1/messages/${id}`)).status, 200);
      } finally {
        await direct.close();
      }
    });

    it('a message without credentials goes to the rejected queue as unauthenticated', async () => {
      const messageId = randomUUID();
      const answer = await send(exam(), { messageId });
      assert.equal(answer.status, 401);
      assert.equal(answer.contentType, 'application/problem+json');
      assert.equal(answer.body.type, 'https://herald.dev/problems/unauthenticated');
      const copy = await rejectedCopy(messageId);
      assert.equal(copy.properties.headers?.['problem-status'], 401);
      assert.deepEqual(JSON.parse(copy.content.toString()), exam());
      assert.equal(copy.properties.headers?.['herald-source'], undefined);
    });

    describe('invalid messages: rejected queue with the problem in the headers, and a reply', () => {
      const key = () => ({ 'x-api-key': t.keys.jwc! });

      it('invalid JSON → malformed-json (400)', async () => {
        const messageId = randomUUID();
        const answer = await send('{"category": "exam.reminder", ', { messageId, headers: key() });
        assert.equal(answer.status, 400);
        assert.equal(answer.body.code, 'malformed-json');
        const copy = await rejectedCopy(messageId);
        const h = copy.properties.headers!;
        assert.equal(h['problem-type'], 'https://herald.dev/problems/malformed-json');
        assert.equal(h['problem-title'], 'The request body is not valid JSON');
        assert.equal(h['problem-status'], 400);
        assert.equal(h['problem-code'], 'malformed-json');
        assert.equal(h['problem-detail'], 'The message body is not valid JSON');
        assert.equal(h['herald-source'], 'jwc');
        assert.equal(h['herald-routing-key'], 'any.routing.key');
        assert.equal(
          copy.content.toString(),
          '{"category": "exam.reminder", ',
          'the original body',
        );
        assert.equal(copy.properties.deliveryMode, 2, 'persistent');
      });

      it('a body that does not fit the schema → validation-failed (400) with the errors', async () => {
        const messageId = randomUUID();
        const body = { category: 'exam.reminder', data: {}, priority: 'urgent' };
        const answer = await send(body, { messageId, headers: key() });
        assert.equal(answer.status, 400);
        assert.equal(answer.body.code, 'validation-failed');
        const paths = (answer.body.errors as { path: string }[]).map((e) => e.path).sort();
        assert.deepEqual(paths, ['body/priority', 'body/to']);
        const copy = await rejectedCopy(messageId);
        const errors = JSON.parse(String(copy.properties.headers?.['problem-errors'])) as {
          path: string;
          message: string;
        }[];
        assert.deepEqual(errors.map((e) => e.path).sort(), ['body/priority', 'body/to']);
        assert.ok(errors.every((e) => e.message.length > 0));
      });

      it('the same rules as POST /v1/messages: a bad sendAt, an empty audience', async () => {
        const viaHttp = await jwc('POST', '/v1/messages', { ...exam(), sendAt: 'tomorrow' });
        const viaAmqp = await send({ ...exam(), sendAt: 'tomorrow' }, { headers: key() });
        assert.equal(viaAmqp.status, viaHttp.status);
        assert.equal(viaAmqp.body.code, viaHttp.body.code);
        assert.equal(viaAmqp.body.errors[0].path, viaHttp.body.errors[0].path);
        const empty = await send({ ...exam(), to: {} }, { headers: key() });
        assert.equal(empty.status, 400);
        assert.match(empty.body.detail, /at least one recipient/);
      });

      it('unknown category → unknown-category (422)', async () => {
        const messageId = randomUUID();
        const answer = await send(
          { ...exam(), category: 'no.such.thing' },
          { messageId, headers: key() },
        );
        assert.equal(answer.status, 422);
        assert.equal(answer.body.code, 'unknown-category');
        const copy = await rejectedCopy(messageId);
        assert.equal(copy.properties.headers?.['problem-code'], 'unknown-category');
        assert.equal(copy.properties.headers?.['problem-status'], 422);
      });

      it('a category the source may not send → category-not-allowed (403)', async () => {
        const messageId = randomUUID();
        const menu = {
          category: 'canteen.menu',
          to: { users: [ALICE] },
          data: DEMO_EXAMPLES['canteen.menu'],
        };
        const answer = await send(menu, { messageId, headers: key() });
        assert.equal(answer.status, 403);
        assert.equal(answer.body.code, 'category-not-allowed');
        const copy = await rejectedCopy(messageId);
        assert.equal(copy.properties.headers?.['problem-code'], 'category-not-allowed');
      });

      it('unknown recipients → 422 with the lists in problem-extensions', async () => {
        const messageId = randomUUID();
        const answer = await send(exam(['nobody-1', ALICE]), { messageId, headers: key() });
        assert.equal(answer.status, 422);
        assert.deepEqual(answer.body.unknownUsers, ['nobody-1']);
        const copy = await rejectedCopy(messageId);
        const ext = JSON.parse(String(copy.properties.headers?.['problem-extensions']));
        assert.deepEqual(ext.unknownUsers, ['nobody-1']);
      });

      it('a content type other than JSON → unsupported-media-type (415)', async () => {
        const answer = await send(exam(), { headers: key(), contentType: 'text/plain' });
        assert.equal(answer.status, 415);
      });
    });

    it('message_id is the idempotency key: a duplicate is answered with the first id and stored once', async () => {
      const messageId = randomUUID();
      const body = {
        category: 'course.change',
        to: { users: [ALICE] },
        data: { ...DEMO_EXAMPLES['course.change'], marker: messageId },
      };
      const first = await send(body, { messageId, headers: { 'x-api-key': t.keys.jwc! } });
      assert.equal(first.status, 202);
      assert.equal(first.contentType, 'application/json');
      const again = await send(body, { messageId, headers: { 'x-api-key': t.keys.jwc! } });
      assert.equal(again.status, 202);
      assert.deepEqual(again.body, first.body);
      assert.equal(again.headers['idempotency-replay'], true);
      // Both at once, neither answered yet: still one message.
      const twinId = randomUUID();
      const twin = { ...body, data: { ...body.data, marker: twinId } };
      const [a, b] = await Promise.all([
        send(twin, { messageId: twinId, headers: { 'x-api-key': t.keys.jwc! } }),
        send(twin, { messageId: twinId, headers: { 'x-api-key': t.keys.jwc! } }),
      ]);
      assert.equal(a.status, 202);
      assert.equal(b.status, 202);
      assert.equal(a.body.id, b.body.id);

      const mine = (await messagesOf('course.change')).filter((m) =>
        ([messageId, twinId] as string[]).includes(String((m.data as { marker?: string }).marker)),
      );
      assert.equal(mine.length, 2, 'one message per message_id');

      // The same id with another body is a conflict, not a second message.
      const other = await send(
        { ...body, data: { marker: 'different' } },
        { messageId, headers: { 'x-api-key': t.keys.jwc! } },
      );
      assert.equal(other.status, 422);
      assert.equal(other.body.code, 'idempotency-key-reused');
      const copy = await rejectedCopy(messageId);
      assert.equal(copy.properties.headers?.['problem-code'], 'idempotency-key-reused');
    });

    it('a message without reply_to is taken all the same; every message is acked', async () => {
      const messageId = randomUUID();
      const body = { ...exam(), data: { ...DEMO_EXAMPLES['exam.reminder'], marker: messageId } };
      await publish(Buffer.from(JSON.stringify(body)), {
        messageId,
        headers: { 'x-api-key': t.keys.jwc! },
      });
      await eventually(
        async () =>
          (await messagesOf('exam.reminder')).some(
            (m) => (m.data as { marker?: string }).marker === messageId,
          ) || undefined,
      );
      const q = await channel.checkQueue(prefix);
      assert.equal(q.messageCount, 0, 'nothing left ready or unacked');
      assert.equal(q.consumerCount, 1);
    });

    it('re-declares and consumes again when the broker cancels the consumer (queue deleted)', async () => {
      const admin2 = await broker.createChannel();
      await admin2.deleteQueue(prefix);
      await admin2.close();
      const messageId = randomUUID();
      const answer = await eventually(
        () => send(exam(), { messageId, headers: { 'x-api-key': t.keys.jwc! } }, 1000),
        15_000,
        'the ingress to consume again',
      );
      assert.equal(answer.status, 202);
    });

    it('stop() cancels the consumer; messages published meanwhile wait and the next consumer takes them', async () => {
      await ingress.stop();
      assert.equal((await channel.checkQueue(prefix)).consumerCount, 0);
      const messageId = randomUUID();
      const body = { ...exam(), data: { ...DEMO_EXAMPLES['exam.reminder'], marker: messageId } };
      await publish(Buffer.from(JSON.stringify(body)), {
        messageId,
        headers: { 'x-api-key': t.keys.jwc! },
      });
      assert.equal((await channel.checkQueue(prefix)).messageCount, 1, 'it waits in the queue');
      ingress = newIngress();
      await ingress.start();
      await eventually(
        async () =>
          (await messagesOf('exam.reminder')).some(
            (m) => (m.data as { marker?: string }).marker === messageId,
          ) || undefined,
      );
    });

    /** Ingest as it is while the database cannot commit: the real answer of Ingest then. */
    const unavailable = () =>
      new Problem('unavailable', 'Messages cannot be stored right now; retry shortly');

    it('keeps a message while the database cannot take it, and accepts it once it can', async () => {
      await ingress.stop();
      let refused = 0;
      ingress = newIngress({
        submit: (request) =>
          refused < 2
            ? (refused++, Promise.reject(unavailable()))
            : t.herald.ingest.submit(request),
      });
      await ingress.start();
      const messageId = randomUUID();
      const answer = await send(exam(), { messageId, headers: { 'x-api-key': t.keys.jwc! } });
      assert.equal(answer.status, 202, 'answered only once it was accepted');
      assert.equal(refused, 2);
      for (;;) {
        const m = await channel.get(`${prefix}.rejected`, { noAck: true });
        if (m === false) break;
        rejected.set(String(m.properties.messageId), m);
      }
      assert.equal(rejected.has(messageId), false, 'a passing problem is not a rejection');
    });

    it('stop() gives back a message it could not take yet, and the next consumer accepts it', async () => {
      await ingress.stop();
      let tries = 0;
      ingress = newIngress({
        submit: () => {
          tries++;
          return Promise.reject(unavailable());
        },
      });
      await ingress.start();
      const messageId = randomUUID();
      const body = { ...exam(), data: { ...DEMO_EXAMPLES['exam.reminder'], marker: messageId } };
      await publish(Buffer.from(JSON.stringify(body)), {
        messageId,
        headers: { 'x-api-key': t.keys.jwc! },
      });
      await eventually(async () => (tries > 0 ? true : undefined));
      const started = Date.now();
      await ingress.stop();
      assert.ok(Date.now() - started < 2000, 'stop does not wait out the retries');
      // The quorum queue takes the returned message back a moment later.
      await eventually(
        async () => ((await channel.checkQueue(prefix)).messageCount === 1 ? true : undefined),
        5000,
        'the message back in the queue',
      );
      ingress = newIngress();
      await ingress.start();
      await eventually(
        async () =>
          (await messagesOf('exam.reminder')).some(
            (m) => (m.data as { marker?: string }).marker === messageId,
          ) || undefined,
      );
    });
  },
);

describe(
  'AMQP ingress in a Herald on RabbitMQ (HERALD_BROKER_URL)',
  { skip: await skipUnless('rabbitmq') },
  () => {
    const brokerPrefix = uniqueBrokerPrefix();
    const names = ingressNames(ingressPrefix(brokerPrefix));
    let t: TestHerald;
    let broker: ChannelModel;

    before(async () => {
      t = await startTestHerald({
        HERALD_BROKER_URL: TEST_BROKER_URL,
        HERALD_BROKER_PREFIX: brokerPrefix,
      });
      broker = await connect(TEST_BROKER_URL);
    });
    after(async () => {
      await broker?.close();
      await t?.close();
      await deleteBrokerObjects(heraldBrokerObjects(brokerPrefix));
    });

    it('consumes <HERALD_BROKER_PREFIX>.ingress in the all process and counts what it settles', async () => {
      const channel = await broker.createChannel();
      try {
        const { queue } = await channel.assertQueue('', { exclusive: true });
        const answered = new Promise<{ status: number; id: string }>((resolve, reject) => {
          setTimeout(() => reject(new Error('no answer from the ingress in 20 s')), 20_000).unref();
          void channel.consume(
            queue,
            (m) =>
              m &&
              resolve({
                status: Number(m.properties.headers?.status),
                id: (JSON.parse(m.content.toString()) as { id: string }).id,
              }),
            { noAck: true },
          );
        });
        // The process connects in the background: wait for its consumer (exchange, queue and
        // binding are declared before it). A check of a missing queue closes its channel, so
        // each look uses a channel of its own.
        await eventually(
          async () => {
            const look = await broker.createChannel();
            look.on('error', () => undefined);
            const { consumerCount } = await look.checkQueue(names.queue);
            await look.close();
            return consumerCount > 0 ? true : undefined;
          },
          10_000,
          `a consumer on ${names.queue}`,
        );
        channel.publish(names.exchange, 'exam.reminder', Buffer.from(JSON.stringify(exam())), {
          persistent: true,
          messageId: randomUUID(),
          replyTo: queue,
          correlationId: 'c-1',
          headers: { 'x-api-key': t.keys.jwc },
        });
        const { status, id } = await answered;
        assert.equal(status, 202);
        const jwc = client(t.url, t.keys.jwc);
        const done = await eventually(async () => {
          const m = await jwc('GET', `/v1/messages/${id}`);
          return m.body.status === 'completed' ? m.body : undefined;
        }, 20_000);
        assert.equal(done.counts.in_app.delivered, 1);
        const metrics = await (await fetch(`${t.url}/metrics`)).text();
        assert.match(metrics, /^herald_amqp_ingress_messages_total\{outcome="accepted"\} 1$/m);
      } finally {
        await channel.close().catch(() => undefined);
      }
    });
  },
);
