import type { Db } from '../../store/database.js';
import type { Clock } from '../../time/clock.js';
import { newId } from '../../store/ids.js';
import { addInboxItems } from '../../inbox/inbox-store.js';
import type { InboxHub } from '../../inbox/inbox-hub.js';
import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../channel-provider.js';

/**
 * The in-app channel: delivering is writing the item into the user's inbox (one transaction
 * per batch) and waking their open SSE streams. Idempotent per delivery id.
 */
export class InAppProvider implements ChannelProvider {
  readonly name = 'in-app';

  constructor(
    private readonly db: Db,
    private readonly hub: InboxHub,
    private readonly clock: Clock,
  ) {}

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    const now = this.clock();
    let results;
    try {
      results = await this.db.transaction().execute((tx) =>
        addInboxItems(
          tx,
          batch.map((m) => ({
            id: newId(now),
            user_id: m.userId,
            message_id: m.messageId,
            delivery_id: m.deliveryId,
            category_key: m.category,
            source_key: m.source.key,
            source_name: m.source.name,
            title: m.content.title ?? m.content.subject ?? '',
            body: m.content.body,
            url: m.content.url ?? null,
            created_at: now,
          })),
        ),
      );
    } catch (err) {
      const error = new DeliveryError(
        `inbox write failed: ${(err as Error).message}`,
        'transient',
        undefined,
        { cause: err },
      );
      return batch.map(() => ({ ok: false, error }));
    }
    for (const r of results) if (r.created) this.hub.publish(r.item.userId, 'item');
    return results.map((r) => ({ ok: true, status: 'delivered', providerMessageId: r.item.id }));
  }
}
