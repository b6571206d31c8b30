import type { Db } from '../store/database.js';
import { getSourcesByIds, type Source } from '../sources/sources-store.js';
import { hasQuotas } from './quotas.js';
import type { QuotaOwner } from './enforce-quotas.js';

/** What a source's deliveries are charged to; undefined when it has no quotas. */
export function quotaOwnerOf(source: Source | undefined | null): QuotaOwner | undefined {
  return source && hasQuotas(source.quotas)
    ? { sourceId: source.id, sourceKey: source.key, quotas: source.quotas }
    : undefined;
}

/** The quota-bound sources among `sourceIds`, by id (sources without quotas are left out). */
export async function quotaOwners(
  db: Db,
  sourceIds: Iterable<string>,
): Promise<Map<string, QuotaOwner>> {
  const owners = new Map<string, QuotaOwner>();
  for (const [id, source] of await getSourcesByIds(db, sourceIds)) {
    const owner = quotaOwnerOf(source);
    if (owner) owners.set(id, owner);
  }
  return owners;
}
