import {
  DeliveryError,
  type ChannelProvider,
  type OutboundMessage,
  type SendOutcome,
} from '../channel-provider.js';

export function transientOutcome(
  message: string,
  retryAfterMs?: number,
  cause?: unknown,
): SendOutcome {
  return { ok: false, error: new DeliveryError(message, 'transient', retryAfterMs, { cause }) };
}

/** A guard held the message back before any provider call: retry later, no attempt used. */
export function heldBackOutcome(message: string, retryAfterMs?: number): SendOutcome {
  return {
    ok: false,
    error: new DeliveryError(message, 'transient', retryAfterMs, { notAttempted: true }),
  };
}

export function isTransient(
  outcome: SendOutcome,
): outcome is { ok: false; error: DeliveryError & { kind: 'transient' } } {
  return !outcome.ok && outcome.error.kind === 'transient';
}

/**
 * Calls `inner.send` and holds it to the port's promise: one outcome per message, no throw.
 * A throw or a wrong outcome count concerns the whole call (connection lost, bug), so every
 * message gets a transient error and the retry policy decides.
 */
export async function sendSafely(
  inner: ChannelProvider,
  batch: readonly OutboundMessage[],
): Promise<SendOutcome[]> {
  try {
    const outcomes = await inner.send(batch);
    if (outcomes.length === batch.length) return outcomes;
    const message = `${inner.name} returned ${outcomes.length} outcomes for ${batch.length} messages`;
    return batch.map(() => transientOutcome(message));
  } catch (error) {
    if (error instanceof DeliveryError) return batch.map(() => ({ ok: false, error }));
    const message = `${inner.name} failed: ${error instanceof Error ? error.message : String(error)}`;
    return batch.map(() => transientOutcome(message, undefined, error));
  }
}
