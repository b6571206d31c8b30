import type { Source } from '../sources/sources-store.js';
import { hasQuotas } from './quotas.js';
import type { QuotaOwner } from './enforce-quotas.js';

/** What a source's deliveries are charged to; undefined when it has no quotas. */
export function quotaOwnerOf(source: Source | undefined | null): QuotaOwner | undefined {
  return source && hasQuotas(source.quotas)
    ? { sourceId: source.id, sourceKey: source.key, quotas: source.quotas }
    : undefined;
}
