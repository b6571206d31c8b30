/**
 * A relay's claim pass in a process of its own, as Herald's relay makes it: a presence on
 * PostgreSQL, then one claim of up to `limit` outbox rows for `claimMs`. It prints what it
 * claimed as one JSON line, then holds the rows without publishing them until it is killed
 * (the crash a test inflicts).
 *
 *   node --import tsx test/support/outbox-claimer-child.ts <database url> <limit> <claimMs>
 */
import { openPostgres } from '../../src/store/postgres/open-postgres.js';
import { PgPresence } from '../../src/store/postgres/pg-presence.js';
import { claimOutboxWithPresence } from '../../src/queue/rabbitmq/outbox.js';

const [url, limit, claimMs] = process.argv.slice(2);
if (!url || !limit || !claimMs)
  throw new Error('usage: outbox-claimer-child <url> <limit> <claimMs>');

const { db, newClient } = openPostgres(url, { poolSize: 1, statementTimeoutMs: 30_000 });
const presence = new PgPresence({ db, newClient, label: 'herald relay' });
presence.start();
const deadline = Date.now() + 20_000;
while (presence.token === null) {
  if (Date.now() > deadline) throw new Error('no presence token in 20 s');
  await new Promise((r) => setTimeout(r, 20));
}
const token = presence.token;
const rows = await claimOutboxWithPresence(
  db,
  { token, prefix: presence.prefix, held: presence.held },
  Number(limit),
  Date.now(),
  Number(claimMs),
);
process.stdout.write(`${JSON.stringify({ token, claimed: rows.map((r) => Number(r.id)) })}\n`);
// Holds them: the test kills this process.
setInterval(() => {}, 60_000);
