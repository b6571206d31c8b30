import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { freshDatabase, type FreshDatabase } from '../../test/support/fresh-db.js';
import type { Db } from './database.js';
import { afterCommit, inTransaction, takesAfterCommit } from './transaction.js';

describe('inTransaction and afterCommit', () => {
  let fresh: FreshDatabase;
  let db: Db;

  beforeEach(async () => {
    fresh = await freshDatabase('transaction');
    db = fresh.db;
  });

  afterEach(async () => {
    await fresh.close();
  });

  const setting = async (key: string): Promise<string | undefined> =>
    (await db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst())
      ?.value;

  it('runs the hooks after COMMIT, in order, with the committed rows visible', async () => {
    const seen: string[] = [];

    const result = await inTransaction(db, async (tx) => {
      await tx.insertInto('settings').values({ key: 'k', value: 'v' }).execute();
      await afterCommit(tx, async () => {
        seen.push(`first:${await setting('k')}`);
      });
      await afterCommit(tx, () => {
        seen.push('second');
      });
      assert.deepEqual(seen, [], 'nothing runs before the commit');
      return 42;
    });

    assert.equal(result, 42);
    assert.deepEqual(seen, ['first:v', 'second']);
  });

  it('never runs the hooks of a transaction that rolls back', async () => {
    let ran = false;

    await assert.rejects(
      inTransaction(db, async (tx) => {
        await tx.insertInto('settings').values({ key: 'k', value: 'v' }).execute();
        await afterCommit(tx, () => {
          ran = true;
        });
        throw new Error('rollback');
      }),
      /rollback/,
    );

    assert.equal(ran, false);
    assert.equal(await setting('k'), undefined);
  });

  it('a nested inTransaction joins the outer one: its hooks wait for the outer commit', async () => {
    const seen: string[] = [];

    await inTransaction(db, async (outer) => {
      await inTransaction(outer, async (inner) => {
        assert.equal(inner, outer);
        await afterCommit(inner, () => {
          seen.push('inner');
        });
      });
      assert.deepEqual(seen, []);
    });

    assert.deepEqual(seen, ['inner']);
  });

  it('a hook that throws does not undo the commit, and the hooks after it still run', async () => {
    const warnings: Error[] = [];
    const onWarning = (w: Error): void => {
      warnings.push(w);
    };
    process.on('warning', onWarning);
    let later = false;
    try {
      await inTransaction(db, async (tx) => {
        await tx.insertInto('settings').values({ key: 'k', value: 'kept' }).execute();
        await afterCommit(tx, () => {
          throw new Error('broker gone');
        });
        await afterCommit(tx, () => {
          later = true;
        });
      });
      await new Promise((r) => setImmediate(r));
    } finally {
      process.off('warning', onWarning);
    }

    assert.equal(await setting('k'), 'kept');
    assert.equal(later, true);
    assert.ok(warnings.some((w) => /broker gone/.test(w.message)));
  });

  it('outside a transaction a hook runs at once', async () => {
    let ran = false;

    await afterCommit(db, () => {
      ran = true;
    });

    assert.equal(ran, true);
    assert.equal(takesAfterCommit(db), true);
  });

  it('refuses a transaction opened without inTransaction, which cannot tell when it commits', async () => {
    await db.transaction().execute(async (tx) => {
      assert.equal(takesAfterCommit(tx), false);
      await assert.rejects(
        afterCommit(tx, () => undefined),
        /inTransaction/,
      );
    });
  });
});
