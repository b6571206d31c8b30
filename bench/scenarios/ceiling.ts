/** Denominator: bare Fastify POST + schema validation → 202, same client, same bodies. */
import { join } from 'node:path';
import { ROOT, startChild } from '../lib/child.js';
import { readCpuSeconds } from '../lib/procfs.js';
import { runAutocannon, summarizeLoad, type LoadSummary } from '../lib/http.js';
import { benchCpu, randomPostRequests, sendBody, type BenchOptions } from './common.js';

export interface CeilingResult {
  readonly load: LoadSummary;
  /** Server CPU per answered request, µs (all threads). */
  readonly serverCpuUsPerRequest: number | null;
  /** Share of one core the load generator used. */
  readonly clientCpu: number;
}

export async function runCeiling(opts: BenchOptions): Promise<CeilingResult> {
  const server = await startChild({
    name: 'ceiling-server',
    args: ['--import', 'tsx', join(ROOT, 'bench/scenarios/ceiling-server.ts')],
    env: {},
    ready: /listening (http:\/\/\S+)/,
    startTimeoutMs: 30_000,
  });
  try {
    const url = /listening (http:\/\/\S+)/.exec(server.output())![1]!;
    // Same shape and size as the ingest bodies (ids like the demo's 学号).
    const bodies = Array.from({ length: 300 }, (_, i) =>
      sendBody(`2024${String(1 + (i % 5)).padStart(2, '0')}01${String(i).padStart(2, '0')}`),
    );
    const requests = randomPostRequests(
      'hk_000000000000_ceiling-does-not-check-this-token-000',
      bodies,
    );
    if (opts.warmup > 0) {
      opts.log(`  ceiling: warm-up ${opts.warmup} s`);
      await runAutocannon({ url, connections: opts.connections, duration: opts.warmup, requests });
    }
    opts.log(`  ceiling: ${opts.duration} s at ${opts.connections} connections`);
    const cpu0 = readCpuSeconds(server.pid);
    const client = benchCpu();
    const result = await runAutocannon({
      url,
      connections: opts.connections,
      duration: opts.duration,
      requests,
    });
    const clientCpu = client.stop();
    const cpu1 = readCpuSeconds(server.pid);
    const load = summarizeLoad(result);
    return {
      load,
      serverCpuUsPerRequest:
        cpu0 !== null && cpu1 !== null && load.ok2xx > 0
          ? ((cpu1 - cpu0) * 1e6) / load.ok2xx
          : null,
      clientCpu,
    };
  } finally {
    await server.stop(5_000);
  }
}
