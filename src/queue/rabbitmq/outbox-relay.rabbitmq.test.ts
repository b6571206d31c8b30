/**
 * Outbox claims on PostgreSQL with presences: what a dead relay claimed is taken by another
 * relay as soon as PostgreSQL sees its session gone — long before the claim would run out —
 * while the claims of a live relay are not taken when they run out (only after ten claim
 * periods), and a relay that lost its session claims nothing under its old token. A relay
 * whose presence cannot connect claims under timed claims until it can. The claims in most
 * of these tests run for an hour: rows published within the tests' timeouts were taken
 * because their holder was gone, not because time ran.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import { sql } from 'kysely';
import pino from 'pino';
import { openPostgres, type OpenedPostgres } from '../../store/postgres/open-postgres.js';
import { PgPresence } from '../../store/postgres/pg-presence.js';
import type { Db } from '../../store/database.js';
import { freshPostgres, type FreshPostgres } from '../../../test/support/fresh-postgres.js';
import { deleteBrokerObjects, uniqueBrokerPrefix } from '../../../test/support/broker.js';
import { skipUnless, TEST_BROKER_URL } from '../../../test/support/services.js';
import { eventually } from '../../../test/support/test-herald.js';
import { Metrics } from '../../ops/metrics.js';
import {
  claimOutboxWithPresence,
  insertOutbox,
  type ClaimPresence,
  type NewOutboxRow,
} from './outbox.js';
import { OutboxRelay, PRESENCE_CLAIM_PERIODS } from './outbox-relay.js';
import { Publisher } from './publisher.js';
import { RabbitMqQueue } from './rabbitmq-queue.js';
import { Topology } from './topology.js';

const TOPIC = 'takeover';
const HOUR = 3_600_000;
const ROOT = new URL('../../../', import.meta.url).pathname;

function rows(n: number, claim: { token: string; until: number } | null = null): NewOutboxRow[] {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    job_id: null,
    topic: TOPIC,
    lane: 'normal',
    payload: JSON.stringify({ i }),
    available_at: now,
    max_deliveries: 5,
    deliveries: 0,
    last_error: null,
    created_at: now,
    ...(claim ? { claim_token: claim.token, claimed_until: claim.until } : {}),
  }));
}

const claimOf = (p: PgPresence): ClaimPresence => ({
  token: p.token!,
  prefix: p.prefix,
  held: p.held,
});

describe(
  'outbox claims of a relay that is gone (PostgreSQL presence)',
  { skip: await skipUnless('postgres', 'rabbitmq') },
  () => {
    let fresh: FreshPostgres;
    const closing: (() => Promise<void>)[] = [];

    before(async () => {
      fresh = await freshPostgres();
    });
    after(async () => {
      await fresh?.close();
    });
    beforeEach(async () => {
      await sql`truncate broker_outbox`.execute(fresh.db);
    });
    afterEach(async () => {
      for (const close of closing.splice(0).reverse()) await close();
    });

    async function presence(db: Db = fresh.db, newClient = fresh.newClient): Promise<PgPresence> {
      const p = new PgPresence({ db, newClient, label: 'herald relay' });
      closing.push(() => p.close());
      p.start();
      await eventually(async () => p.token ?? undefined, 10_000, 'a presence token');
      return p;
    }

    /** A relay as Herald runs it, consuming TOPIC with room for every job at once. */
    async function relayQueue(
      db: Db,
      p: PgPresence,
      more: Partial<ConstructorParameters<typeof RabbitMqQueue>[0]> = {},
    ): Promise<RabbitMqQueue> {
      const queue = new RabbitMqQueue({
        url: TEST_BROKER_URL,
        db,
        presence: p,
        log: pino({ level: 'silent' }),
        prefix: uniqueBrokerPrefix(),
        declareLadder: false,
        prefetch: 5_000,
        relayPollMs: 200,
        outboxClaimMs: HOUR,
        ...more,
      });
      closing.push(async () => {
        await queue.close();
        await deleteBrokerObjects(queue.declaredNames());
      });
      return queue;
    }

    /** Every job in the consumers' buffers, by id: how often each was published. */
    async function published(queue: RabbitMqQueue): Promise<Map<string, number>> {
      await queue.settled([TOPIC], 20_000);
      const jobs = await queue.lease([TOPIC], 100_000, 60_000);
      await queue.ack(jobs);
      const counts = new Map<string, number>();
      for (const job of jobs) counts.set(job.id, (counts.get(job.id) ?? 0) + 1);
      return counts;
    }

    /** A publisher on broker objects of its own (deleted after the test), link up. */
    async function publisherOn(topology: Topology): Promise<Publisher> {
      const publisher = new Publisher({
        url: TEST_BROKER_URL,
        name: 'outbox relay test',
        log: pino({ level: 'silent' }),
        topology,
        topics: [TOPIC],
        declareLadder: false,
      });
      closing.push(async () => {
        await publisher.close();
        await deleteBrokerObjects({
          exchanges: [topology.jobsExchange, topology.delayExchange, topology.deadExchange],
          queues: [
            ...(['urgent', 'normal', 'bulk'] as const).map((l) => topology.jobQueue(TOPIC, l)),
            topology.deadQueue,
          ],
        });
      });
      publisher.start();
      assert.ok(await publisher.whenReady(10_000), 'broker link up');
      return publisher;
    }

    function relayOn(
      publisher: Publisher,
      opts: Partial<ConstructorParameters<typeof OutboxRelay>[0]>,
    ): OutboxRelay {
      const relay = new OutboxRelay({
        db: fresh.db,
        publisher,
        log: pino({ level: 'silent' }),
        clock: Date.now,
        pollMs: 200,
        ...opts,
      });
      closing.push(async () => {
        relay.stop();
        await relay.idle();
      });
      return relay;
    }

    const outbox = async () =>
      sql<{ id: number; claim_token: string | null }>`
        select id, claim_token from broker_outbox order by id`
        .execute(fresh.db)
        .then((r) => r.rows);

    it('rows claimed by a process that is killed are published by another relay at once, each once', async () => {
      const ids = (await insertOutbox(fresh.db, rows(300))).map((r) => String(r.id));
      // Another process claims 200 of them for an hour, then holds them without publishing.
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', 'test/support/outbox-claimer-child.ts', fresh.url, '200', String(HOUR)],
        { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      const exited = new Promise((resolve) => child.once('exit', resolve));
      closing.push(async () => {
        child.kill('SIGKILL');
        await exited;
      });
      let out = '';
      child.stdout.on('data', (b: Buffer) => (out += b.toString()));
      child.stderr.on('data', (b: Buffer) => (out += b.toString()));
      const held = await eventually(
        async () =>
          out.includes('\n')
            ? (JSON.parse(out) as { token: string; claimed: number[] })
            : undefined,
        30_000,
        'the child to claim',
      );
      assert.equal(held.claimed.length, 200);

      // While it lives, another relay's pass takes the free rows only.
      const mine = await presence();
      const taken = await claimOutboxWithPresence(fresh.db, claimOf(mine), 1_000, Date.now(), HOUR);
      assert.equal(taken.length, 100, 'the 100 rows nobody held');
      assert.ok(taken.every((r) => !held.claimed.includes(Number(r.id))));
      await sql`update broker_outbox set claim_token = null, claimed_until = null where claim_token = ${mine.token}`.execute(
        fresh.db,
      );

      const queue = await relayQueue(fresh.db, mine);
      await eventually(
        async () => ((await outbox()).length === 200 ? true : undefined),
        20_000,
        'the free rows published',
      );
      assert.ok(
        (await outbox()).every((r) => r.claim_token === held.token),
        'what is left is the live process’s claim, untouched',
      );

      // kill -9: its session closes with it, and the next relay pass takes its rows.
      const killedAt = performance.now();
      child.kill('SIGKILL');
      await exited;
      const counts = await published(queue);
      console.log(
        `# 200 rows of a killed relay published ${((performance.now() - killedAt) / 1000).toFixed(2)} s after the kill (its claim ran for an hour)`,
      );
      assert.deepEqual([...counts.keys()].sort(), [...ids].sort(), 'every row published');
      assert.ok(
        [...counts.values()].every((n) => n === 1),
        'and each once',
      );
      assert.equal((await outbox()).length, 0);
    });

    it('a relay whose session dropped claims nothing under its old token; any relay takes what it held', async () => {
      const a = await presence();
      const b = await presence();
      await insertOutbox(fresh.db, rows(50));
      const claimedByA = await claimOutboxWithPresence(fresh.db, claimOf(a), 100, Date.now(), HOUR);
      assert.equal(claimedByA.length, 50);
      const old = claimOf(a);

      await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${old.token}`.execute(
        fresh.db,
      );
      await eventually(
        async () => (a.token !== null && a.token !== old.token ? true : undefined),
        10_000,
        'a new token for A',
      );
      await insertOutbox(fresh.db, rows(10));

      // A relay still claiming under the lost token (it has not heard yet) gets nothing …
      assert.deepEqual(await claimOutboxWithPresence(fresh.db, old, 100, Date.now(), HOUR), []);
      // … and the rows it held are anyone's, an hour before their claim runs out.
      const byB = await claimOutboxWithPresence(fresh.db, claimOf(b), 100, Date.now(), HOUR);
      assert.equal(byB.length, 60);
      assert.deepEqual(
        await claimOutboxWithPresence(fresh.db, claimOf(a), 100, Date.now(), HOUR),
        [],
        'B is alive: A takes none of its claims',
      );
    });

    it('rows in hand whose token was lost are not published from hand: another relay may hold them by now', async () => {
      const p = await presence();
      const topology = new Topology(uniqueBrokerPrefix(), 5);
      const log = pino({ level: 'silent' });
      const publisher = await publisherOn(topology);
      const relay = new OutboxRelay({ db: fresh.db, publisher, log, clock: Date.now, presence: p });
      // Closed in reverse: the relay stops before its publisher closes.
      closing.push(async () => {
        relay.stop();
        await relay.idle();
      });
      const lost = p.token!;
      // Written pre-claimed by a transaction, as an enqueue does; then the session drops.
      const inHand = await insertOutbox(
        fresh.db,
        rows(20, { token: lost, until: Date.now() + HOUR }),
      );
      await sql`select pg_terminate_backend(pid) from pg_stat_activity where application_name = ${lost}`.execute(
        fresh.db,
      );
      await eventually(async () => (p.token !== lost && p.token !== null ? true : undefined));

      // Another relay takes them at once, to publish them itself.
      const other = await presence();
      const taken = await claimOutboxWithPresence(fresh.db, claimOf(other), 100, Date.now(), HOUR);
      assert.equal(taken.length, 20);

      assert.equal(await relay.publishClaimed(inHand), false, 'not published from hand');
      await relay.idle();
      const queue = topology.jobQueue(TOPIC, 'normal');
      // 20 had they been published from hand: the other relay would then send them again.
      assert.deepEqual(await publisher.countMessages([queue]), [0]);
      assert.equal((await outbox()).length, 20, 'still there, for the relay that holds them');
    });

    it('relays racing for the rows of a dead one claim each row once', async () => {
      const dead = await presence();
      const token = dead.token!;
      await insertOutbox(fresh.db, rows(2_000, { token, until: Date.now() + HOUR }));
      await dead.close();
      const relays = await Promise.all([1, 2, 3, 4].map(() => presence()));
      const claims = await Promise.all(
        relays.flatMap((p) =>
          [1, 2, 3].map(() => claimOutboxWithPresence(fresh.db, claimOf(p), 300, Date.now(), HOUR)),
        ),
      );
      const ids = claims.flat().map((r) => Number(r.id));
      assert.equal(new Set(ids).size, ids.length, 'no row claimed twice');
      const rest = await claimOutboxWithPresence(
        fresh.db,
        claimOf(relays[0]!),
        5_000,
        Date.now(),
        HOUR,
      );
      assert.equal(ids.length + rest.length, 2_000, 'every row claimed');
    });

    it('when every session drops (a PostgreSQL restart), the relays come back under new tokens and publish what was claimed under the old ones, each row once', async () => {
      // Two "processes" on a pool and presences whose sessions this test alone can name.
      const name = `herald test ${fresh.schema}`;
      const opened: OpenedPostgres = openPostgres(fresh.url, {
        poolSize: 4,
        statementTimeoutMs: 30_000,
        applicationName: name,
      });
      closing.push(() => opened.db.destroy());
      const pa = await presence(opened.db, opened.newClient);
      const pb = await presence(opened.db, opened.newClient);
      const before = [pa.token!, pb.token!];
      const qa = await relayQueue(opened.db, pa);
      const qb = await relayQueue(opened.db, pb);
      // Rows each had claimed when PostgreSQL went away (publications it will never finish).
      await insertOutbox(fresh.db, rows(800, { token: before[0]!, until: Date.now() + HOUR }));
      await insertOutbox(fresh.db, rows(800, { token: before[1]!, until: Date.now() + HOUR }));
      const ids = (await outbox()).map((r) => String(r.id));

      await sql`select pg_terminate_backend(pid) from pg_stat_activity
        where application_name = ${name} or application_name = any(${before})`.execute(fresh.db);

      const counts = new Map<string, number>();
      for (const queue of [qa, qb]) {
        for (const [id, n] of await published(queue)) counts.set(id, (counts.get(id) ?? 0) + n);
      }
      assert.ok(pa.token !== null && !before.includes(pa.token), 'A holds a new token');
      assert.ok(pb.token !== null && !before.includes(pb.token), 'B holds a new token');
      assert.deepEqual([...counts.keys()].sort(), [...ids].sort(), 'every row published');
      assert.ok(
        [...counts.values()].every((n) => n === 1),
        'and each once',
      );
      assert.equal((await outbox()).length, 0);
    });

    it('a live relay keeps rows it holds after their claim ran out by another relay’s clock: a transaction that outlasted the claim, or a clock ahead, publishes nothing twice', async () => {
      const CLAIM = 20_000;
      const topology = new Topology(uniqueBrokerPrefix(), 5);
      const queue = topology.jobQueue(TOPIC, 'normal');
      const pa = await presence();
      const pb = await presence();
      const a = relayOn(await publisherOn(topology), { presence: pa, claimMs: CLAIM });
      // A's process writes rows pre-claimed, as an enqueue in a transaction does …
      const claim = a.preClaim()!;
      assert.equal(claim.token, pa.token);
      const inHand = await insertOutbox(
        fresh.db,
        rows(20, { token: claim.token, until: Date.now() + claim.claimMs }),
      );
      // … and B's relay sees them three claim periods later: A's transaction took that long
      // to commit, or B's machine's clock is that far ahead.
      const b = relayOn(await publisherOn(topology), {
        presence: pb,
        claimMs: CLAIM,
        clock: () => Date.now() + 3 * CLAIM,
      });
      await b.flush();
      assert.equal((await outbox()).filter((r) => r.claim_token === pa.token).length, 20);

      assert.equal(await a.publishClaimed(inHand), true, 'A publishes them');
      const publisher = await publisherOn(topology);
      assert.deepEqual(await publisher.countMessages([queue]), [20], 'each once');
      assert.equal((await outbox()).length, 0);

      // The bound for a holder wedged with its session open: ten claim periods.
      await insertOutbox(
        fresh.db,
        rows(5, { token: claim.token, until: Date.now() + claim.claimMs }),
      );
      const ahead = (periods: number) =>
        claimOutboxWithPresence(fresh.db, claimOf(pb), 100, Date.now() + periods * CLAIM, CLAIM);
      assert.deepEqual(await ahead(PRESENCE_CLAIM_PERIODS - 1), [], 'A is alive');
      assert.equal((await ahead(PRESENCE_CLAIM_PERIODS + 1)).length, 5, 'wedged that long');

      // Claims under a token without the presence prefix (an older relay, a relay without
      // presence) are taken once they ran out, and not before.
      await sql`truncate broker_outbox`.execute(fresh.db);
      await insertOutbox(fresh.db, rows(5, { token: 'an older relay', until: Date.now() + HOUR }));
      assert.deepEqual(
        await claimOutboxWithPresence(fresh.db, claimOf(pb), 100, Date.now(), HOUR),
        [],
      );
      assert.equal(
        (await claimOutboxWithPresence(fresh.db, claimOf(pb), 100, Date.now() + HOUR + 1, HOUR))
          .length,
        5,
      );
    });

    it('rows whose claim has less left than a publication takes are not published from hand; a relay pass publishes them once it ran out', async () => {
      const topology = new Topology(uniqueBrokerPrefix(), 5);
      const p = await presence();
      const publisher = await publisherOn(topology);
      const relay = relayOn(publisher, { presence: p });
      // Written by a transaction that held them until 2 s before their claim runs out.
      const inHand = await insertOutbox(
        fresh.db,
        rows(20, { token: p.token!, until: Date.now() + 2_000 }),
      );
      assert.equal(await relay.publishClaimed(inHand), false, 'not published from hand');
      const queue = topology.jobQueue(TOPIC, 'normal');
      assert.deepEqual(await publisher.countMessages([queue]), [0]);

      relay.start();
      await eventually(
        async () => ((await outbox()).length === 0 ? true : undefined),
        20_000,
        'published by a relay pass',
      );
      assert.deepEqual(await publisher.countMessages([queue]), [20], 'each once');
    });

    it('a relay whose presence cannot connect (the role’s connection limit) claims under timed claims until it can', async () => {
      const role = `herald_t_${randomBytes(6).toString('hex')}`;
      await sql.raw(`create role ${role} login connection limit 0`).execute(fresh.db);
      closing.push(async () => {
        await sql`select pg_terminate_backend(pid) from pg_stat_activity where usename = ${role}`.execute(
          fresh.db,
        );
        await sql.raw(`drop role ${role}`).execute(fresh.db);
      });
      const url = new URL(fresh.url);
      url.username = role;
      const refused = openPostgres(url.toString(), { poolSize: 1, statementTimeoutMs: 30_000 });
      closing.push(() => refused.db.destroy());
      const p = new PgPresence({
        db: fresh.db,
        newClient: refused.newClient,
        label: 'herald relay',
      });
      closing.push(() => p.close());

      // Rows a killed process had claimed under its presence, for an hour.
      const dead = await presence();
      const ids = (
        await insertOutbox(fresh.db, rows(30, { token: dead.token!, until: Date.now() + HOUR }))
      ).map((r) => String(r.id));
      await dead.close();

      const queue = await relayQueue(fresh.db, p, { outboxPresenceWaitMs: 300 });
      const metrics = new Metrics({ queue: null, processMetrics: false });
      metrics.outboxPresence(() => queue.outboxClaimMode === 'presence');
      const gauge = async () =>
        /^herald_broker_outbox_presence (\d)$/m.exec((await metrics.expose()).text)?.[1];

      await eventually(
        async () => (queue.outboxClaimMode === 'timed' ? true : undefined),
        10_000,
        'timed claims',
      );
      assert.equal(p.token, null, 'no presence');
      assert.equal(await gauge(), '0');
      await queue.enqueue(
        Array.from({ length: 10 }, (_, i) => ({
          topic: TOPIC,
          lane: 'normal' as const,
          payload: { i },
        })),
      );
      const counts = await published(queue);
      assert.equal(
        counts.size,
        40,
        'the dead one’s rows (at once, not in an hour) and the new jobs',
      );
      assert.ok(ids.every((id) => counts.get(id) === 1));
      assert.ok(
        [...counts.values()].every((n) => n === 1),
        'each once',
      );

      // The presence keeps trying; once the role may connect, claims are under it again.
      await sql.raw(`alter role ${role} connection limit -1`).execute(fresh.db);
      await eventually(
        async () => (queue.outboxClaimMode === 'presence' ? true : undefined),
        15_000,
        'the presence back',
      );
      assert.match(String(p.token as string | null), /^herald relay /, 'under a presence token');
      assert.equal(await gauge(), '1');
      await queue.enqueue([{ topic: TOPIC, lane: 'normal', payload: { after: true } }]);
      assert.equal((await published(queue)).size, 1);
      assert.equal((await outbox()).length, 0);
    });
  },
);
