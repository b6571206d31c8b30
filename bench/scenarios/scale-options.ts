import type { Runtime } from '../lib/child.js';

/** What the scale-out scenarios are told (`npm run bench -- --mode scale …`). */
export interface ScaleOptions {
  readonly runtime: Runtime;
  /** postgres://… of the server and database; each scenario adds `?schema=bench_<random>`. */
  readonly databaseUrl: string;
  readonly brokerUrl: string;
  /** `herald worker` processes beside the one `herald api`. */
  readonly workers: number;
  readonly duration: number;
  readonly warmup: number;
  readonly connections: number;
  readonly users: number;
  readonly importChunk: number;
  readonly broadcastTimeoutS: number;
  /** Interval of the broadcast's status polls (each costs the database a count). */
  readonly pollMs: number;
  readonly drainTimeoutS: number;
  /** Where --cpu-prof writes, per scenario and process; null: no profiling. */
  readonly profileRoot: string | null;
  /** Where pg-trace.mjs writes, per scenario and process; null: no SQL tracing. */
  readonly sqlTraceRoot: string | null;
  readonly top: number;
  readonly log: (line: string) => void;
}
