import type { Db } from '../store/database.js';
import type { LaneDepth, Queue } from '../queue/queue.js';
import type { Clock } from '../time/clock.js';
import {
  deliveryCounts,
  LATENCY_BOUNDS_MS,
  messagesAcceptedSince,
  openDeadLetters,
  type WindowCount,
} from './stats-store.js';

export const HOUR_MS = 3600_000;

/** Deliveries of a window by what happened to them (a delivery's status, grouped). */
export interface DeliveryFigures {
  /** Deliveries created (planned at fan-out), whatever became of them. */
  readonly accepted: number;
  /** `sent` or `delivered`: a provider took it. */
  readonly delivered: number;
  /** `failed` or `dead`. */
  readonly failed: number;
  readonly suppressed: number;
  /** Still `queued`. */
  readonly pending: number;
}

export interface LatencyFigures {
  /** Deliveries measured: those that reached `sent`/`delivered`. */
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly meanMs: number;
}

export interface ChannelFigures extends DeliveryFigures {
  readonly channel: string;
  readonly byStatus: Readonly<Record<string, number>>;
  /** Null when no delivery of the window reached `sent`/`delivered` yet. */
  readonly latency: LatencyFigures | null;
}

export interface HourFigures extends DeliveryFigures {
  /** Start of the clock hour (epoch ms). */
  readonly from: number;
}

export interface Overview {
  readonly hours: number;
  /** Start of the window: the start of the clock hour `hours - 1` hours before now's. */
  readonly from: number;
  readonly to: number;
  readonly messagesAccepted: number;
  readonly channels: readonly ChannelFigures[];
  readonly totals: DeliveryFigures & { readonly latency: LatencyFigures | null };
  /** One entry per clock hour, oldest first; the last one is the current, partial hour. */
  readonly series: readonly HourFigures[];
  /** Jobs waiting per lane; null when the queue could not say (a broker outage). */
  readonly queue: (LaneDepth & { readonly total: number }) | null;
  readonly openDeadLetters: number;
}

/** How long the figures of a finished hour are reused: its deliveries still change status. */
const FINISHED_HOUR_TTL_MS = 60_000;

/**
 * The dashboard's figures over the last hours. Each clock hour is read with its own statement
 * (so none holds SQLite's one connection for long, whatever the window) and the figures of
 * finished hours are reused for a minute: a dashboard refreshing every few seconds reads the
 * current hour only, most of the time.
 */
export class DashboardStats {
  private readonly hours = new Map<number, { readAt: number; rows: WindowCount[] }>();

  constructor(
    private readonly db: Db,
    private readonly queue: Queue,
    private readonly clock: Clock,
  ) {}

  async overview(hours: number): Promise<Overview> {
    const now = this.clock();
    const current = Math.floor(now / HOUR_MS) * HOUR_MS;
    const from = current - (hours - 1) * HOUR_MS;
    const perHour: { from: number; rows: WindowCount[] }[] = [];
    for (let start = from; start <= current; start += HOUR_MS) {
      perHour.push({ from: start, rows: await this.hour(start, start === current, now) });
    }
    this.forgetBefore(current - 7 * 24 * HOUR_MS);

    const byChannel = new Map<string, WindowCount[]>();
    for (const h of perHour) {
      for (const r of h.rows) {
        const list = byChannel.get(r.channel) ?? [];
        list.push(r);
        byChannel.set(r.channel, list);
      }
    }
    const all = perHour.flatMap((h) => h.rows);
    const channels = [...byChannel.entries()]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([channel, rows]) => ({
        channel,
        ...figures(rows),
        byStatus: byStatus(rows),
        latency: latency(rows),
      }));
    return {
      hours,
      from,
      to: now,
      messagesAccepted: await messagesAcceptedSince(this.db, from),
      channels,
      totals: { ...figures(all), latency: latency(all) },
      series: perHour.map((h) => ({ from: h.from, ...figures(h.rows) })),
      queue: await this.depth(),
      openDeadLetters: await openDeadLetters(this.db),
    };
  }

  private async hour(start: number, isCurrent: boolean, now: number): Promise<WindowCount[]> {
    const cached = this.hours.get(start);
    if (!isCurrent && cached && now - cached.readAt < FINISHED_HOUR_TTL_MS) return cached.rows;
    const rows = await deliveryCounts(this.db, start, start + HOUR_MS);
    if (!isCurrent) this.hours.set(start, { readAt: now, rows });
    return rows;
  }

  private forgetBefore(start: number): void {
    for (const key of this.hours.keys()) if (key < start) this.hours.delete(key);
  }

  private async depth(): Promise<(LaneDepth & { total: number }) | null> {
    try {
      const d = await this.queue.depth();
      return { ...d, total: d.urgent + d.normal + d.bulk };
    } catch {
      return null;
    }
  }
}

function figures(rows: readonly WindowCount[]): DeliveryFigures {
  const f = { accepted: 0, delivered: 0, failed: 0, suppressed: 0, pending: 0 };
  for (const r of rows) {
    f.accepted += r.count;
    if (r.status === 'sent' || r.status === 'delivered') f.delivered += r.count;
    else if (r.status === 'failed' || r.status === 'dead') f.failed += r.count;
    else if (r.status === 'suppressed') f.suppressed += r.count;
    else if (r.status === 'queued') f.pending += r.count;
  }
  return f;
}

function byStatus(rows: readonly WindowCount[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rows) out[r.status] = (out[r.status] ?? 0) + r.count;
  return out;
}

/**
 * p50/p95 estimated from the buckets as Prometheus' histogram_quantile does: linear within
 * the bucket holding the rank. The open-ended last bucket answers its own mean.
 */
export function latency(rows: readonly WindowCount[]): LatencyFigures | null {
  const counts = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  const sums = new Array<number>(LATENCY_BOUNDS_MS.length + 1).fill(0);
  let count = 0;
  let sum = 0;
  for (const r of rows) {
    if (r.bucket < 0) continue;
    counts[r.bucket]! += r.count;
    sums[r.bucket]! += r.latencySumMs;
    count += r.count;
    sum += r.latencySumMs;
  }
  if (count === 0) return null;
  const quantile = (q: number): number => {
    const rank = q * count;
    let before = 0;
    for (let i = 0; i < counts.length; i++) {
      const c = counts[i]!;
      if (c > 0 && before + c >= rank) {
        if (i === LATENCY_BOUNDS_MS.length) return Math.round(sums[i]! / c);
        const lower = i === 0 ? 0 : LATENCY_BOUNDS_MS[i - 1]!;
        const upper = LATENCY_BOUNDS_MS[i]!;
        return Math.round(lower + ((upper - lower) * (rank - before)) / c);
      }
      before += c;
    }
    return Math.round(sum / count);
  };
  return { count, p50Ms: quantile(0.5), p95Ms: quantile(0.95), meanMs: Math.round(sum / count) };
}
