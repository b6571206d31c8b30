import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  spawnHerald,
  type ChildHerald,
} from '../support/test-herald.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import { check, formatCheck } from '../support/checker.js';
import { RUN_MODES, type PendingJobs, type Run, type StoreReader } from '../support/run-modes.js';

const MESSAGES = 500;
/** Requests sent at once: the API commits them in a few group commits. */
const WAVE = 50;
/** A class of the demo university: enough recipients that deliveries are in flight at the kill. */
const CLASS = 'class-2024-agronomy-1';

/**
 * One crash run: a demo Herald on the mode's data, killed and started again on the same data,
 * the ids producers got a 202 for, and the reconciliation of those with the inboxes.
 */
class CrashRun {
  herald: ChildHerald | null = null;
  readonly accepted: string[] = [];
  recipients: readonly string[] = [];
  #db: StoreReader | null = null;
  #jwc = '';

  constructor(
    readonly dataDir: string,
    readonly run: Run,
  ) {}

  get db(): StoreReader {
    assert.ok(this.#db, 'start() first');
    return this.#db;
  }

  /** Starts Herald (again) on the run's data; the first start reads the demo's key and class. */
  async start(env: Record<string, string> = {}): Promise<void> {
    this.herald = await spawnHerald(this.dataDir, {
      HERALD_DEMO: 'true',
      HERALD_LEASE_SECONDS: '3',
      ...this.run.env,
      ...env,
    });
    if (this.#db) return;
    this.#jwc = /^\s+jwc\s+(hk_\S+)/m.exec(this.herald.output())![1]!;
    const members = await client(this.herald.url, ADMIN_TOKEN)(
      'GET',
      `/v1/groups/${CLASS}/members?limit=500`,
    );
    assert.equal(members.status, 200, `class members: ${JSON.stringify(members.body)}`);
    this.recipients = members.body.items.map((u: { externalId: string }) => u.externalId);
    assert.ok(this.recipients.length >= 10, `the class has ${this.recipients.length} members`);
    this.#db = await this.run.reader();
  }

  /** `waves` times, WAVE messages to the class at once; every one must be accepted. */
  async send(waves: number): Promise<void> {
    const send = client(this.herald!.url, this.#jwc);
    for (let wave = 0; wave < waves; wave++) {
      const results = await Promise.all(
        Array.from({ length: WAVE }, () =>
          send('POST', '/v1/messages', {
            category: 'exam.reminder',
            to: { groups: [CLASS] },
            data: DEMO_EXAMPLES['exam.reminder'],
            channels: ['in_app'],
          }),
        ),
      );
      for (const r of results) {
        assert.equal(r.status, 202);
        this.accepted.push(r.body.id);
      }
    }
  }

  delivered(): Promise<number> {
    return this.db.count(`select count(*) n from inbox_items`);
  }

  /**
   * SIGKILL, then the jobs the dead process left: in the store (embedded queue, or outbox rows
   * the relay had not published or not yet deleted) and in the broker, once the broker has
   * requeued what the process held unacked.
   */
  async kill(): Promise<{ delivered: number; pending: PendingJobs }> {
    await this.herald!.kill('SIGKILL');
    const delivered = await this.delivered();
    const pending = await eventually(
      async () => {
        const p = await this.run.pendingJobs(this.db);
        return p.consumers === 0 ? p : undefined;
      },
      30_000,
      "the broker to requeue the killed process's jobs",
    );
    return { delivered, pending };
  }

  /**
   * Waits for every accepted message in every inbox and for no job left anywhere (the
   * duplicate jobs a crash causes have then run too), and reconciles. Stuck: deliveries still
   * queued, and accepted messages whose fan-out never finished — a message neither delivered
   * nor carried by a job stays so, and shows as lost and stuck once the wait gives up.
   */
  async reconcile(what: string): Promise<void> {
    const expected = this.accepted.length * this.recipients.length;
    const settled = await eventually(
      async () => {
        if ((await this.delivered()) < expected) return undefined;
        const left = await this.run.pendingJobs(this.db);
        if (left.store + left.broker === 0) return true;
        // Rows a killed relay had claimed wait for the next relay pass (PostgreSQL), or out
        // their claim (30 s, SQLite): look every half second.
        await new Promise((r) => setTimeout(r, 500));
        return undefined;
      },
      90_000,
      'all deliveries after the restart, and no job left',
    ).catch((err: unknown) => err as Error);
    await new Promise((r) => setTimeout(r, 500));
    const left = await this.run.pendingJobs(this.db);

    const received = await this.db.rows<{ message_id: string; external_id: string }>(
      `select i.message_id, u.external_id from inbox_items i join users u on u.id = i.user_id`,
    );
    const stuck =
      (await this.db.count(`select count(*) n from deliveries where status = 'queued'`)) +
      (await this.db.count(`select count(*) n from messages where status <> 'dispatched'`));
    const result = check({
      accepted: this.accepted,
      recipientsOf: () => this.recipients,
      received: received.map((r) => ({ messageId: r.message_id, recipient: r.external_id })),
      stuck,
    });
    console.log(`# ${what}: ${formatCheck(result)}`);
    assert.deepEqual(
      result,
      { expected, received: expected, lost: 0, duplicated: 0, unexpected: 0, stuck: 0 },
      formatCheck(result),
    );
    assert.equal(settled, true, `${String(settled)}; left: ${pendingText(left)}`);
    assert.equal(await this.db.count(`select count(*) n from queue_dead_jobs`), 0, 'dead jobs');
    // Per-user sequence numbers stay unique and dense enough to resume from.
    const seqs = await this.db.rows<{ n: number | string; d: number | string }>(
      `select user_id, count(*) n, count(distinct seq) d from inbox_items group by user_id`,
    );
    assert.ok(seqs.every((s) => Number(s.n) === Number(s.d)));
  }

  async close(): Promise<void> {
    await this.herald?.kill();
    await this.#db?.close();
  }
}

/** The failpoint: deleting outbox rows fails (PostgreSQL, in the run's own schema). */
const HOLD_OUTBOX_ROWS = `
  create function test_hold_outbox_rows() returns trigger language plpgsql as $$
  begin
    raise exception 'test failpoint: the outbox keeps its rows';
  end $$;
  create trigger test_hold_outbox_rows before delete on broker_outbox
    for each statement execute function test_hold_outbox_rows();`;
const RELEASE_OUTBOX_ROWS = `drop trigger test_hold_outbox_rows on broker_outbox`;

/**
 * Outbox claims that would keep every other relay off the rows for an hour: a relay that
 * publishes them within the test's wait took them because their holder was gone.
 */
const CLAIMS_FOR_AN_HOUR = { HERALD_BROKER_OUTBOX_CLAIM_SECONDS: '3600' };

const pendingText = (p: PendingJobs) => `${p.store} jobs in the store, ${p.broker} in the broker`;

for (const mode of RUN_MODES) {
  describe(
    `crash on ${mode.name}: SIGKILL loses nothing and duplicates no inbox item`,
    { skip: await mode.unavailable() },
    () => {
      let dataDir: string;
      let run: Run | undefined;
      let crash: CrashRun | undefined;

      beforeEach(async () => {
        dataDir = mkdtempSync(join(tmpdir(), 'herald-crash-'));
        run = await mode.open(dataDir);
        crash = new CrashRun(dataDir, run);
      });
      afterEach(async () => {
        await crash?.close();
        await run?.drop();
        if (!process.env.KEEP) rmSync(dataDir, { recursive: true, force: true });
        else console.log('kept', dataDir);
      });

      it(`${MESSAGES} accepted messages reach every inbox exactly once across a kill -9 while delivering`, async () => {
        const c = crash!;
        await c.start();
        // Half the messages, then kill -9 at once: their fan-out and deliveries are in flight.
        await c.send(MESSAGES / 2 / WAVE);
        const atKill = await c.kill();
        assert.ok(
          atKill.delivered < c.accepted.length * c.recipients.length,
          `killed while delivering (had ${atKill.delivered})`,
        );
        // What is not delivered yet is held somewhere for the restart to resume.
        assert.ok(
          atKill.pending.store + atKill.pending.broker > 0,
          `the killed process left ${pendingText(atKill.pending)}`,
        );

        // Restart on the same data; the rest of the messages go to the new process.
        await c.start();
        await c.send(MESSAGES / 2 / WAVE);
        assert.equal(c.accepted.length, MESSAGES);
        await c.reconcile(
          `crash check on ${mode.name} (killed after ${atKill.delivered} inbox items, leaving ${pendingText(atKill.pending)})`,
        );
      });

      it(
        'jobs the broker confirmed but the outbox still holds at a kill -9 are published again, and run once',
        { skip: mode.broker ? false : 'only the broker mode has an outbox and its relay' },
        async () => {
          const c = crash!;
          await c.start(CLAIMS_FOR_AN_HOUR);
          // A failpoint holds the relay in its crash window, after the broker's confirms and
          // before the outbox delete: every job is published but stays in the outbox, as if
          // the process died right after each confirm.
          await c.db.execute(HOLD_OUTBOX_ROWS);
          await c.send(4);
          await eventually(
            async () => ((await c.delivered()) > 0 ? true : undefined),
            30_000,
            'a first delivery: published jobs run',
          );
          const atKill = await c.kill();
          const claimed = await c.db.count(
            `select count(*) n from broker_outbox where claim_token is not null`,
          );
          console.log(
            `# at the kill: ${atKill.delivered} inbox items, ${pendingText(atKill.pending)} (${claimed} outbox rows claimed by the relay: published, never deleted)`,
          );
          assert.ok(
            atKill.pending.store >= c.accepted.length,
            'the fan-out job of every accepted message, at least, is in the outbox',
          );
          assert.ok(claimed > 0, 'the relay had published rows it could not delete');

          // Restarted without the failpoint: the new process's relays publish every row again
          // at once — PostgreSQL dropped the killed one's session, and with it its claims,
          // which would otherwise hold for an hour (rows leave the outbox only after a
          // confirmed publication) — and the fan-out and delivery jobs that run twice must not
          // fill an inbox twice.
          await c.db.execute(RELEASE_OUTBOX_ROWS);
          const restartedAt = performance.now();
          await c.start(CLAIMS_FOR_AN_HOUR);
          await eventually(
            async () => ((await c.run.pendingJobs(c.db)).store === 0 ? true : undefined),
            60_000,
            'the killed relay’s claims published by the new process',
          );
          console.log(
            `# the killed relay's ${claimed} claimed rows left the outbox ${((performance.now() - restartedAt) / 1000).toFixed(1)} s after the restart began (claims of an hour)`,
          );
          await c.reconcile(`outbox crash check on ${mode.name} (${claimed} jobs published twice)`);
        },
      );
    },
  );
}
