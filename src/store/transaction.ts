/**
 * Store transactions with after-commit hooks. Some effects cannot join a database transaction
 * (a broker ack, a wake-up of another process): an adapter registers them with `afterCommit`
 * against the transaction it was handed, and `inTransaction` runs them once COMMIT has
 * succeeded — never after a rollback, never before the rows they answer are visible.
 */
import type { Db, Tx } from './database.js';

type Hook = () => void | Promise<void>;

/** Hooks of the transactions opened by `inTransaction`, keyed by the transaction handle. */
const pending = new WeakMap<Tx, Hook[]>();

/**
 * Runs `fn` in a transaction that commits iff `fn` resolves, then runs the hooks registered on
 * it with `afterCommit`, in order, awaiting each. Called with a handle that is already a
 * transaction, `fn` joins it: its hooks run when that outer transaction commits.
 *
 * A hook that throws does not undo the commit: the error is reported as a process warning
 * and the remaining hooks still run. Hooks handle their own failures (the broker queue logs
 * them and lets redelivery repair them).
 */
export async function inTransaction<T>(db: Db, fn: (tx: Tx) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  let hooks: Hook[] = [];
  const result = await db.transaction().execute(async (tx) => {
    hooks = [];
    pending.set(tx, hooks);
    try {
      return await fn(tx);
    } finally {
      // Registrations after the transaction's body (a late callback) are refused.
      pending.delete(tx);
    }
  });
  for (const hook of hooks) {
    try {
      await hook();
    } catch (err) {
      process.emitWarning(err instanceof Error ? err : new Error(String(err)), {
        type: 'AfterCommitHookWarning',
      });
    }
  }
  return result;
}

/**
 * Runs `hook` once `tx` has committed. `tx` must be a transaction opened by `inTransaction`
 * (or any handle that is not a transaction, where "committed" is now: the hook runs at once).
 * A transaction opened some other way cannot tell when it commits, so it is refused loudly
 * rather than acting before a commit that may never come.
 */
export async function afterCommit(tx: Tx, hook: Hook): Promise<void> {
  if (!tx.isTransaction) {
    await hook();
    return;
  }
  const hooks = pending.get(tx);
  if (!hooks) {
    throw new TypeError(
      'afterCommit needs a transaction opened with inTransaction() (src/store/transaction.ts); ' +
        'db.transaction().execute() cannot run after-commit hooks',
    );
  }
  hooks.push(hook);
}

/** Whether `tx` is a transaction that takes after-commit hooks (opened by `inTransaction`). */
export function takesAfterCommit(tx: Tx): boolean {
  return !tx.isTransaction || pending.has(tx);
}
