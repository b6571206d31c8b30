/**
 * A bounded AMQP connection close. amqplib's close() waits for the broker's CloseOk; a broker
 * that stopped answering (out of file descriptors, a frozen network path) would hold a
 * graceful stop until the force timeout. Past the bound the socket is dropped, which the
 * broker treats like any closed connection (unacked deliveries go back to their queues).
 */
import type { ChannelModel } from 'amqplib';

/** Closes the connection, or drops its socket if the broker does not confirm within `ms`. */
export async function closeWithin(connection: ChannelModel, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const closed = connection.close().then(
    () => true,
    () => true,
  );
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  const inTime = await Promise.race([closed, late]);
  clearTimeout(timer);
  if (!inTime) {
    // amqplib keeps the socket as `connection.stream` (untyped).
    (connection.connection as unknown as { stream?: { destroy(): void } }).stream?.destroy();
  }
}
