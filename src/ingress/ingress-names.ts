/** The broker objects of the AMQP ingress, all named after one prefix. */
export interface IngressNames {
  /** Durable topic exchange producers publish to (any routing key). */
  readonly exchange: string;
  /** Durable quorum queue bound to the exchange with `#`, consumed by Herald. */
  readonly queue: string;
  /** Durable quorum queue of the messages Herald refused, with the problem in the headers. */
  readonly rejected: string;
}

export const DEFAULT_INGRESS_PREFIX = 'herald.ingress';

/** The ingress of a Herald whose broker objects are named `<brokerPrefix>.…` (HERALD_BROKER_PREFIX). */
export function ingressPrefix(brokerPrefix: string): string {
  return `${brokerPrefix}.ingress`;
}

/**
 * `herald.ingress` → exchange `herald.ingress`, queue `herald.ingress` (exchanges and queues
 * have separate namespaces, so a producer may also publish straight to the queue through the
 * default exchange), rejected queue `herald.ingress.rejected`. Tests pass their own prefix.
 */
export function ingressNames(prefix: string = DEFAULT_INGRESS_PREFIX): IngressNames {
  return { exchange: prefix, queue: prefix, rejected: `${prefix}.rejected` };
}
