import type { Db } from '../store/database.js';
import { getSourceById } from '../sources/sources-store.js';
import { hasQuotas } from './quotas.js';
import type { QuotaOwner } from './enforce-quotas.js';

/** The quota-bound sources among `sourceIds`, by id (sources without quotas are left out). */
export async function quotaOwners(
  db: Db,
  sourceIds: Iterable<string>,
): Promise<Map<string, QuotaOwner>> {
  const owners = new Map<string, QuotaOwner>();
  for (const id of new Set(sourceIds)) {
    const source = await getSourceById(db, id);
    if (source && hasQuotas(source.quotas)) {
      owners.set(id, { sourceId: id, sourceKey: source.key, quotas: source.quotas });
    }
  }
  return owners;
}
