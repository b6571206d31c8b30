/**
 * A job as a RabbitMQ message: the body is the payload's JSON, everything else travels in
 * headers (they survive dead-lettering and the delay ladder unchanged).
 */
import type { Message } from 'amqplib';
import { LANES, type Lane } from '../queue.js';

/** What a publication of a job carries (an outbox row, or a job sent down the ladder again). */
export interface JobRecord {
  readonly id: string;
  readonly topic: string;
  readonly lane: Lane;
  /** The payload's JSON text. */
  readonly payload: string;
  readonly availableAt: number;
  readonly maxDeliveries: number;
  /** Leases (and broker returns) the job had before this publication. */
  readonly deliveries: number;
  readonly createdAt: number;
  readonly lastError: string | null;
}

const H = {
  id: 'x-herald-job',
  topic: 'x-herald-topic',
  lane: 'x-herald-lane',
  availableAt: 'x-herald-available-at',
  maxDeliveries: 'x-herald-max-deliveries',
  deliveries: 'x-herald-deliveries',
  createdAt: 'x-herald-created-at',
  lastError: 'x-herald-last-error',
} as const;

/** Longest last error carried along (the rest is cut: headers are not for logs). */
const MAX_ERROR_CHARS = 1_000;

export function jobHeaders(job: JobRecord): Record<string, string | number> {
  const headers: Record<string, string | number> = {
    [H.id]: job.id,
    [H.topic]: job.topic,
    [H.lane]: job.lane,
    [H.availableAt]: job.availableAt,
    [H.maxDeliveries]: job.maxDeliveries,
    [H.deliveries]: job.deliveries,
    [H.createdAt]: job.createdAt,
  };
  if (job.lastError !== null) headers[H.lastError] = job.lastError.slice(0, MAX_ERROR_CHARS);
  return headers;
}

/**
 * The job a delivered message carries, with `deliveries` counting the broker's own returns
 * (`x-delivery-count`: a nack, or a channel closed by a crash), or null when the message is
 * not one of Herald's jobs.
 */
export function readJob(message: Message): JobRecord | null {
  const h = (message.properties.headers ?? {}) as Record<string, unknown>;
  const id = h[H.id];
  const topic = h[H.topic];
  const lane = h[H.lane];
  if (typeof id !== 'string' || !/^[0-9]+$/.test(id)) return null;
  if (typeof topic !== 'string' || typeof lane !== 'string') return null;
  if (!(LANES as readonly string[]).includes(lane)) return null;
  const num = (v: unknown, fallback: number): number => {
    const n = typeof v === 'number' ? v : typeof v === 'string' ? Number(v) : NaN;
    return Number.isFinite(n) ? n : fallback;
  };
  const lastError = h[H.lastError];
  return {
    id,
    topic,
    lane: lane as Lane,
    payload: message.content.toString('utf8'),
    availableAt: num(h[H.availableAt], 0),
    maxDeliveries: num(h[H.maxDeliveries], 20),
    deliveries: num(h[H.deliveries], 0) + num(h['x-delivery-count'], 0),
    createdAt: num(h[H.createdAt], 0),
    lastError: typeof lastError === 'string' ? lastError : null,
  };
}

/** Why the broker dead-lettered a message, from its first `x-death` entry. */
export function deathReason(message: Message): string {
  const h = (message.properties.headers ?? {}) as Record<string, unknown>;
  const reason = h['x-first-death-reason'];
  if (reason === 'delivery_limit') return 'max-deliveries';
  return typeof reason === 'string' ? `broker: ${reason}` : 'broker: dead-lettered';
}
