import { Type } from 'typebox';
import type { Server } from '../http/server-types.js';
import type { AuthGuards } from '../http/auth-guards.js';
import { problemResponses } from '../http/schemas.js';
import type { DashboardStats, DeliveryFigures, LatencyFigures } from './dashboard-stats.js';

const Figures = {
  accepted: Type.Integer({ description: 'Deliveries created (planned at fan-out)' }),
  delivered: Type.Integer({ description: '`sent` + `delivered`: a provider took them' }),
  failed: Type.Integer({ description: '`failed` + `dead`' }),
  suppressed: Type.Integer(),
  pending: Type.Integer({ description: 'Still `queued`' }),
};

const LatencySchema = Type.Union(
  [
    Type.Object({
      count: Type.Integer({ description: 'Deliveries measured (those sent or delivered)' }),
      p50Ms: Type.Integer(),
      p95Ms: Type.Integer(),
      meanMs: Type.Integer(),
    }),
    Type.Null(),
  ],
  {
    description:
      "From the delivery's creation (fan-out) to `sent`/`delivered`; p50/p95 estimated from buckets (like Prometheus' histogram_quantile). Null when nothing was sent yet",
  },
);

const OverviewSchema = Type.Object({
  hours: Type.Integer(),
  from: Type.String({
    format: 'date-time',
    description: 'Start of the window: the start of the clock hour `hours - 1` hours ago',
  }),
  to: Type.String({ format: 'date-time', description: 'Now' }),
  messages: Type.Object({
    accepted: Type.Integer({ description: 'Messages accepted in the window (scheduled ones too)' }),
  }),
  channels: Type.Array(
    Type.Object({
      channel: Type.String(),
      ...Figures,
      byStatus: Type.Record(Type.String(), Type.Integer(), {
        description: 'Deliveries per status: queued, sent, delivered, failed, dead, suppressed',
      }),
      latency: LatencySchema,
    }),
    { description: 'Channels with deliveries in the window, by name' },
  ),
  totals: Type.Object({ ...Figures, latency: LatencySchema }),
  series: Type.Array(Type.Object({ from: Type.String({ format: 'date-time' }), ...Figures }), {
    description: 'All channels per clock hour, oldest first; the last is the current hour so far',
  }),
  queue: Type.Union(
    [
      Type.Object({
        urgent: Type.Integer(),
        normal: Type.Integer(),
        bulk: Type.Integer(),
        total: Type.Integer(),
      }),
      Type.Null(),
    ],
    { description: 'Jobs waiting per lane now; null when the queue cannot say (broker away)' },
  ),
  deadLetters: Type.Object({
    open: Type.Integer({ description: 'Dead letters not re-driven' }),
  }),
});

const iso = (ms: number) => new Date(ms).toISOString();
const figures = (f: DeliveryFigures) => ({
  accepted: f.accepted,
  delivered: f.delivered,
  failed: f.failed,
  suppressed: f.suppressed,
  pending: f.pending,
});
const latencyView = (l: LatencyFigures | null) =>
  l && { count: l.count, p50Ms: l.p50Ms, p95Ms: l.p95Ms, meanMs: l.meanMs };

/** The console's dashboard. */
export function statsRoutes(
  app: Server,
  deps: { guards: AuthGuards; stats: DashboardStats },
): void {
  app.get(
    '/v1/stats/overview',
    {
      onRequest: deps.guards.admin,
      schema: {
        tags: ['console'],
        summary: 'Dashboard: deliveries per channel, latency, queue depth over the last hours',
        description:
          'Deliveries created in the window, per channel and status; their latency; an hourly series; the queue depth and open dead letters now. Finished hours are cached for a minute.',
        querystring: Type.Object({
          hours: Type.Integer({ minimum: 1, maximum: 168, default: 24 }),
        }),
        response: { 200: OverviewSchema, ...problemResponses },
      },
    },
    async (request) => {
      const o = await deps.stats.overview(request.query.hours);
      return {
        hours: o.hours,
        from: iso(o.from),
        to: iso(o.to),
        messages: { accepted: o.messagesAccepted },
        channels: o.channels.map((c) => ({
          channel: c.channel,
          ...figures(c),
          byStatus: { ...c.byStatus },
          latency: latencyView(c.latency),
        })),
        totals: { ...figures(o.totals), latency: latencyView(o.totals.latency) },
        series: o.series.map((h) => ({ from: iso(h.from), ...figures(h) })),
        queue: o.queue && {
          urgent: o.queue.urgent,
          normal: o.queue.normal,
          bulk: o.queue.bulk,
          total: o.queue.total,
        },
        deadLetters: { open: o.openDeadLetters },
      };
    },
  );
}
