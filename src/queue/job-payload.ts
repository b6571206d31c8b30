import type { JobInput } from './queue.js';

/** A job's payload as JSON text; a TypeError naming the job when it has none (nothing enqueued). */
export function serialiseJobPayload(job: JobInput, index: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(job.payload);
  } catch (cause) {
    throw new TypeError(
      `Job ${index} (${job.topic}) payload cannot be serialised as JSON; nothing was enqueued`,
      { cause },
    );
  }
  if (text === undefined) {
    throw new TypeError(
      `Job ${index} (${job.topic}) payload is ${typeof job.payload}, not JSON; nothing was enqueued`,
    );
  }
  return text;
}
