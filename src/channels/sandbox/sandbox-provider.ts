import type { Db } from '../../store/database.js';
import type { Clock } from '../../time/clock.js';
import { newId } from '../../store/ids.js';
import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../channel-provider.js';
import { insertOutbox } from './sandbox-store.js';

/**
 * Stands in for every channel without real configuration when HERALD_SANDBOX is on: records
 * the exact payload a provider would have received (admin `GET /v1/sandbox/outbox`) and
 * reports it `sent`, so a demo shows what SMS, WeChat or email would carry.
 */
export class SandboxProvider implements ChannelProvider {
  readonly name = 'sandbox';

  constructor(
    private readonly db: Db,
    private readonly clock: Clock,
  ) {}

  async send(batch: readonly OutboundMessage[]): Promise<SendOutcome[]> {
    const now = this.clock();
    const rows = batch.map((m) => ({
      id: newId(now),
      delivery_id: m.deliveryId,
      message_id: m.messageId,
      channel: m.channel,
      recipient: m.address,
      payload: JSON.stringify(payloadFor(m)),
      created_at: now,
    }));
    try {
      await this.db.transaction().execute((tx) => insertOutbox(tx, rows));
    } catch (err) {
      const error = new DeliveryError(
        `sandbox write failed: ${(err as Error).message}`,
        'transient',
        undefined,
        { cause: err },
      );
      return batch.map(() => ({ ok: false, error }));
    }
    return rows.map((r) => ({ ok: true, status: 'sent', providerMessageId: r.id }));
  }
}

/** The shape each channel's provider would be handed, by channel. */
function payloadFor(m: OutboundMessage): Record<string, unknown> {
  const { subject, title, body, url } = m.content;
  switch (m.channel) {
    case 'email':
      return {
        to: m.address,
        subject: subject ?? title ?? '',
        text: body,
        messageId: `<${m.deliveryId}@herald>`,
      };
    case 'sms':
      return { phone: m.address, text: body, outId: m.deliveryId };
    case 'wechat':
      return {
        touser: m.address,
        title: title ?? '',
        body,
        ...(url ? { url } : {}),
        client_msg_id: m.deliveryId,
      };
    default:
      return {
        to: m.address,
        ...(title ? { title } : {}),
        ...(subject ? { subject } : {}),
        body,
        ...(url ? { url } : {}),
        id: m.deliveryId,
      };
  }
}
