import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import {
  ADMIN_TOKEN,
  client,
  eventually,
  spawnHerald,
  type ChildHerald,
} from '../support/test-herald.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';
import { check, formatCheck } from '../support/checker.js';

const MESSAGES = 500;
/** A class of the demo university: enough recipients that deliveries are in flight at the kill. */
const CLASS = 'class-2024-agronomy-1';

describe('crash: SIGKILL while delivering loses nothing and duplicates no inbox item', () => {
  let dataDir: string;
  let herald: ChildHerald;

  before(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'herald-crash-'));
  });
  after(async () => {
    await herald?.kill();
    if (!process.env.KEEP) rmSync(dataDir, { recursive: true, force: true });
    else console.log('kept', dataDir);
  });

  it(`${MESSAGES} accepted messages reach every inbox exactly once across a kill -9`, async () => {
    herald = await spawnHerald(dataDir, { HERALD_DEMO: 'true', HERALD_LEASE_SECONDS: '3' });
    const jwc = /^\s+jwc\s+(hk_\S+)/m.exec(herald.output())![1]!;
    const members = await client(herald.url, ADMIN_TOKEN)(
      'GET',
      `/v1/groups/${CLASS}/members?limit=500`,
    );
    const RECIPIENTS: string[] = members.body.items.map(
      (u: { externalId: string }) => u.externalId,
    );
    assert.ok(RECIPIENTS.length >= 10, `the class has ${RECIPIENTS.length} members`);
    const accepted: string[] = [];
    const sendWave = async () => {
      const send = client(herald.url, jwc);
      const results = await Promise.all(
        Array.from({ length: 50 }, () =>
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
        accepted.push(r.body.id);
      }
    };
    const db = new SqliteDatabase(join(dataDir, 'herald.db'), { readonly: true });
    const delivered = () =>
      (db.prepare(`select count(*) n from inbox_items`).get() as { n: number }).n;

    // Half the messages, then kill -9 at once: their fan-out and deliveries are in flight.
    for (let wave = 0; wave < MESSAGES / 100; wave++) await sendWave();
    await herald.kill('SIGKILL');
    const killedAt = delivered();
    assert.ok(
      killedAt < accepted.length * RECIPIENTS.length,
      `killed while delivering (had ${killedAt})`,
    );

    // Restart on the same data; the rest of the messages go to the new process.
    herald = await spawnHerald(dataDir, { HERALD_DEMO: 'true', HERALD_LEASE_SECONDS: '3' });
    for (let wave = 0; wave < MESSAGES / 100; wave++) await sendWave();
    assert.equal(accepted.length, MESSAGES);
    await eventually(
      async () => (delivered() >= MESSAGES * RECIPIENTS.length ? true : undefined),
      90_000,
      'all deliveries after restart',
    );
    await new Promise((r) => setTimeout(r, 500));

    const received = db
      .prepare(
        `select i.message_id, u.external_id from inbox_items i join users u on u.id = i.user_id`,
      )
      .all() as { message_id: string; external_id: string }[];
    const stuck = (
      db.prepare(`select count(*) n from deliveries where status = 'queued'`).get() as { n: number }
    ).n;
    const result = check({
      accepted,
      recipientsOf: () => RECIPIENTS,
      received: received.map((r) => ({ messageId: r.message_id, recipient: r.external_id })),
      stuck,
    });
    console.log(`# crash check (killed after ${killedAt} inbox items): ${formatCheck(result)}`);
    assert.equal(result.expected, MESSAGES * RECIPIENTS.length);
    assert.equal(result.lost, 0);
    assert.equal(result.duplicated, 0);
    assert.equal(result.unexpected, 0);
    assert.equal(result.stuck, 0);
    // Per-user sequence numbers stay unique and dense enough to resume from.
    const seqs = db
      .prepare(
        `select user_id, count(*) n, count(distinct seq) d from inbox_items group by user_id`,
      )
      .all() as { n: number; d: number }[];
    assert.ok(seqs.every((s) => s.n === s.d));
    db.close();
  });
});
