import { Counter, type Registry } from 'prom-client';

/** `herald_amqp_ingress_messages_total{outcome}`: messages the AMQP ingress settled. */
export function ingressOutcomeCounter(registry: Registry): Counter<'outcome'> {
  return new Counter({
    name: 'herald_amqp_ingress_messages_total',
    help: 'Messages taken from the AMQP ingress, by outcome: accepted (replays included) or rejected (copied to herald.ingress.rejected).',
    labelNames: ['outcome'] as const,
    registers: [registry],
  });
}
