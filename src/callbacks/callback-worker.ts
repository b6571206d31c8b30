import type { Logger } from 'pino';
import type { Db } from '../store/database.js';
import { inTransaction } from '../store/transaction.js';
import type { JobInput, LeasedJob, Queue } from '../queue/queue.js';
import type { Clock } from '../time/clock.js';
import type { Metrics } from '../ops/metrics.js';
import type { OutboundHttp } from '../net/outbound-http.js';
import { backoffMs, type RetryOptions } from '../deliveries/retry-policy.js';
import { getSourceCallbacks, type SourceCallback } from '../sources/sources-store.js';
import { CALLBACK_TOPIC, type CallbackEvent, type CallbackJobPayload } from './callback-events.js';
import { CALLBACK_JOB_MAX_LEASES } from './callback-emitter.js';
import { sendCallback, type CallbackResult } from './callback-sender.js';
import { mapLimit } from '../runtime/map-limit.js';

export interface CallbackRetryPolicy extends RetryOptions {
  /** Attempts per event, the first included; then the event goes to the dead letters. */
  readonly maxAttempts: number;
}

/**
 * 12 attempts: waits of ~1, 2, 4 … 256 min, then 6 h twice (each between half and all of
 * that, jittered) — from 10 to 20 hours in all, so a receiver down for a night still gets
 * everything.
 */
export const DEFAULT_CALLBACK_RETRY: CallbackRetryPolicy = {
  baseMs: 60_000,
  capMs: 6 * 3600_000,
  maxAttempts: 12,
};

/** How the callback loop reaches receivers. */
export interface CallbackDelivery {
  /** SSRF-guarded, with timeouts (see createOutboundHttp). */
  readonly http: OutboundHttp;
  readonly retry: CallbackRetryPolicy;
  /** Requests in flight at once per lease. */
  readonly parallelism: number;
}

export interface CallbackWorkerDeps extends CallbackDelivery {
  readonly db: Db;
  readonly queue: Queue;
  readonly clock: Clock;
  readonly metrics: Pick<Metrics, 'callbackEvents'>;
  readonly log: Logger;
}

type Outcome = CallbackResult | { readonly kind: 'deferred' } | { readonly kind: 'dropped' };

interface Task {
  readonly payload: CallbackJobPayload;
  readonly event: CallbackEvent;
  outcome?: Outcome;
}

/**
 * Sends the events of leased callback jobs, one signed request per event, `parallelism` at a
 * time. Per event: 2xx is done; 408/429/5xx and network failures are retried with backoff
 * (Retry-After honoured) until `maxAttempts`, then dead-lettered; other answers and URLs the
 * SSRF policy refuses are given up with a warning. Only the events still to retry are
 * re-enqueued, in the transaction that acks their job, so a success is never sent again
 * because its neighbour failed.
 *
 * Once a receiver fails transiently, the rest of its events in this lease are not tried now
 * but retried with the failed ones (same attempt count): a receiver that is down is not
 * hammered with a request per event.
 */
export async function sendCallbackJobs(
  deps: CallbackWorkerDeps,
  leased: readonly LeasedJob[],
): Promise<void> {
  const { db, queue, clock, log, metrics } = deps;
  const buried = leased.filter((j) => (j.payload as CallbackJobPayload).bury !== undefined);
  const jobs = leased.filter((j) => (j.payload as CallbackJobPayload).bury === undefined);

  const targets = await getSourceCallbacks(db, [
    ...new Set(jobs.map((j) => (j.payload as CallbackJobPayload).sourceId)),
  ]);
  const perJob = jobs.map((job) => {
    const payload = job.payload as CallbackJobPayload;
    return { job, payload, tasks: payload.events.map((event): Task => ({ payload, event })) };
  });

  const deferred = new Set<string>(); // sources whose receiver failed transiently in this lease
  const refused = new Map<string, CallbackResult>(); // sources whose URL is not allowed
  const queueOfTasks = perJob.flatMap((j) => j.tasks);
  const runOne = async (task: Task): Promise<void> => {
    const { sourceId } = task.payload;
    const target = targets.get(sourceId);
    if (!target) return void (task.outcome = { kind: 'dropped' });
    if (deferred.has(sourceId)) return void (task.outcome = { kind: 'deferred' });
    const known = refused.get(sourceId);
    if (known) return void (task.outcome = known);
    task.outcome = await send(target, task.event);
    if (task.outcome.kind === 'retry') deferred.add(sourceId);
    if (task.outcome.kind === 'refused') refused.set(sourceId, task.outcome);
  };
  const send = async (target: SourceCallback, event: CallbackEvent): Promise<CallbackResult> => {
    if (target.secret === null) return { kind: 'refused', error: 'the callback has no secret' };
    return sendCallback(deps.http, { url: target.url, secret: target.secret }, event, clock());
  };
  await mapLimit(queueOfTasks, deps.parallelism, runOne);

  const finished = clock();
  const retryAtOfSource = new Map<string, number>();
  const decided = perJob.map(({ job, payload, tasks }) => {
    const failed = tasks.filter((t) => t.outcome?.kind === 'retry');
    const attempts = payload.attempt + 1;
    let at = finished + backoffMs(attempts, deps.retry);
    for (const t of failed) {
      const o = t.outcome as Extract<CallbackResult, { kind: 'retry' }>;
      at = Math.max(at, finished + (o.retryAfterMs ?? 0));
    }
    if (failed.length > 0) {
      retryAtOfSource.set(
        payload.sourceId,
        Math.max(retryAtOfSource.get(payload.sourceId) ?? 0, at),
      );
    }
    return { job, payload, tasks, failed, attempts };
  });

  const enqueue: JobInput[] = [];
  const ack: LeasedJob[] = [];
  const dead: { job: LeasedJob; reason: string }[] = buried.map((job) => ({
    job,
    reason: (job.payload as CallbackJobPayload).bury!,
  }));
  const retryJob = (payload: CallbackJobPayload, availableAt: number): JobInput => ({
    topic: CALLBACK_TOPIC,
    lane: 'normal',
    payload,
    availableAt,
    maxDeliveries: CALLBACK_JOB_MAX_LEASES,
  });
  for (const { job, payload, tasks, failed, attempts } of decided) {
    const { sourceId } = payload;
    const origin = originOf(targets.get(sourceId)?.url);
    const exhausted = attempts >= deps.retry.maxAttempts;
    for (const t of tasks) count(deps, t, { sourceId, origin, attempt: attempts, exhausted });
    const waiting = tasks.filter((t) => t.outcome?.kind === 'deferred').map((t) => t.event);
    if (waiting.length > 0) {
      const at = retryAtOfSource.get(sourceId) ?? finished + backoffMs(attempts, deps.retry);
      enqueue.push(retryJob({ sourceId, attempt: payload.attempt, events: waiting }, at));
    }
    if (failed.length === 0) {
      ack.push(job);
      continue;
    }
    const lastError = (failed[failed.length - 1]!.outcome as { error: string }).error;
    const events = failed.map((t) => t.event);
    if (!exhausted) {
      ack.push(job);
      enqueue.push(
        retryJob({ sourceId, attempt: attempts, events }, retryAtOfSource.get(sourceId)!),
      );
      continue;
    }
    const reason = `callback to ${origin} failed ${attempts} times, last: ${lastError}`;
    metrics.callbackEvents.inc({ outcome: 'dead' }, failed.length);
    log.error(
      { sourceId, events: events.map((e) => e.id), reason },
      'callback events dead-lettered',
    );
    if (failed.length === tasks.length) {
      dead.push({ job, reason });
    } else {
      // The job also holds events that succeeded: dead-letter only the failed ones, in a job
      // of their own that goes to the dead letters as soon as it is leased.
      ack.push(job);
      enqueue.push(retryJob({ sourceId, attempt: attempts, events, bury: reason }, finished));
    }
  }

  await inTransaction(db, async (tx) => {
    if (enqueue.length > 0) await queue.enqueue(enqueue, tx);
    await queue.ack(ack, tx);
    for (const { job, reason } of dead) await queue.deadLetter(job, reason, tx);
  });
  log.debug({ jobs: leased.length, events: queueOfTasks.length }, 'callback jobs done');
}

/** Metric and log line of one event's outcome (dead ones are counted where they are buried). */
function count(
  deps: CallbackWorkerDeps,
  task: Task,
  at: { sourceId: string; origin: string; attempt: number; exhausted: boolean },
): void {
  const { sourceId, origin, attempt } = at;
  const o = task.outcome;
  if (!o || o.kind === 'deferred' || (o.kind === 'retry' && at.exhausted)) return;
  const outcome = o.kind === 'ok' ? 'delivered' : o.kind === 'retry' ? 'retried' : o.kind;
  deps.metrics.callbackEvents.inc({ outcome });
  const where = { sourceId, eventId: task.event.id, type: task.event.type, origin, attempt };
  if (o.kind === 'rejected') {
    deps.log.warn(
      { ...where, status: o.status },
      'callback receiver rejected an event; not retried',
    );
  } else if (o.kind === 'refused') {
    deps.log.warn({ ...where, error: o.error }, 'callback URL refused; event given up');
  } else if (o.kind === 'dropped') {
    deps.log.info(where, 'source has no callback any more; event dropped');
  } else if (o.kind === 'retry') {
    deps.log.info({ ...where, error: o.error }, 'callback attempt failed; will retry');
  }
}

/** Scheme, host and port only: a URL's path or query may hold a token, logs must not. */
function originOf(url: string | undefined): string {
  if (url === undefined) return '(none)';
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}
