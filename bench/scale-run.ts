/**
 * `npm run bench -- --mode scale` — Herald scaled out: PostgreSQL + RabbitMQ, one `herald api`
 * and `--workers` (2) `herald worker` processes of the bench's build, against the raw
 * round-trip rate of the same RabbitMQ measured in the same run, so that the result is a ratio.
 * Each scenario gets a fresh schema `bench_<random>` (HERALD_DATABASE_URL …?schema=) and the
 * same name as HERALD_BROKER_PREFIX; both are removed afterwards, also on failure and Ctrl-C.
 *
 *   npm run bench -- --mode scale [--only broker,ingest,broadcast] [--workers 2]
 *                    [--database-url postgres://127.0.0.1:5432/test]
 *                    [--broker-url amqp://guest:guest@127.0.0.1:5672]
 *                    [--broker-count 20000] [--broker-window 100] [--broker-prefetch 32]
 *                    [--broker-consumers <workers>] [--no-ceiling]
 *                    [--duration 10] [--warmup 2] [--connections 50] [--users 30000] [--chunk 5000]
 *                    [--runtime dist|tsx] [--src worktree|<git rev>] [--profile] [--sql-trace] [--top 15]
 *                    [--broadcast-timeout 300] [--poll-ms 500] [--drain-timeout 120] [--quiet-wait 60]
 *
 * The broker ceiling runs with the message profile of the scenario it is the denominator of,
 * just before it: `ingest` (fan-out + one-delivery jobs) and `broadcast` (100-delivery jobs).
 * `--only ingest` measures its ceiling as well; `--no-ceiling` skips the ceilings.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from 'amqplib';
import pg from 'pg';
import { ROOT, type BuildInfo, type Runtime } from './lib/child.js';
import { buildAndCheck, git } from './lib/build-check.js';
import { formatProfileSummary, type ProfileSummary } from './lib/cpu-profile.js';
import { waitForQuiet, type Quiet } from './lib/procfs.js';
import type { UsageReport } from './lib/process-usage.js';
import { int, mib, renderTable, verdict, type Row } from './lib/report.js';
import { numberArg, onlyArg } from './lib/cli-args.js';
import { formatTableWrites } from './lib/pg-table-stats.js';
import { formatSqlSummary } from './lib/sql-summary.js';
import { releaseResource } from './lib/cleanup.js';
import { ceilingPrefix, defaultPgUser, reserveRun, sweepLeftovers } from './lib/scale-services.js';
import {
  runBrokerCeiling,
  type BrokerCeilingResult,
  type CeilingProfile,
} from './scenarios/broker-ceiling.js';
import { runScaleIngest, type ScaleIngestResult } from './scenarios/scale-ingest.js';
import { runScaleBroadcast, type ScaleBroadcastResult } from './scenarios/scale-broadcast.js';
import type { ScaleOptions } from './scenarios/scale-options.js';

const SCENARIOS = ['broker', 'ingest', 'broadcast'] as const;

const TARGETS = {
  /** End-to-end deliveries/s as a share of the broker's raw round trips/s. */
  shareOfBroker: 0.5,
  broadcastFinalS: 10,
};

function parseScaleCli(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: 'string' },
      workers: { type: 'string', default: '2' },
      'database-url': { type: 'string', default: 'postgres://127.0.0.1:5432/test' },
      'broker-url': { type: 'string', default: 'amqp://guest:guest@127.0.0.1:5672' },
      'broker-count': { type: 'string', default: '20000' },
      'broker-window': { type: 'string', default: '100' },
      'broker-prefetch': { type: 'string', default: process.env.HERALD_BROKER_PREFETCH || '32' },
      'broker-consumers': { type: 'string' },
      'no-ceiling': { type: 'boolean', default: false },
      duration: { type: 'string', default: '10' },
      warmup: { type: 'string', default: '2' },
      connections: { type: 'string', default: '50' },
      users: { type: 'string', default: '30000' },
      chunk: { type: 'string', default: '5000' },
      runtime: { type: 'string', default: 'dist' },
      src: { type: 'string', default: 'worktree' },
      profile: { type: 'boolean', default: false },
      'sql-trace': { type: 'boolean', default: false },
      top: { type: 'string', default: '15' },
      'broadcast-timeout': { type: 'string', default: '300' },
      'poll-ms': { type: 'string', default: '500' },
      'drain-timeout': { type: 'string', default: '120' },
      'quiet-wait': { type: 'string', default: '60' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      'npm run bench -- --mode scale [--only broker,ingest,broadcast] [--workers 2]\n' +
        '                 [--database-url postgres://127.0.0.1:5432/test] [--broker-url amqp://guest:guest@127.0.0.1:5672]\n' +
        '                 [--broker-count 20000] [--broker-window 100] [--broker-prefetch 32] [--broker-consumers <workers>] [--no-ceiling]\n' +
        '                 [--duration 10] [--warmup 2] [--connections 50] [--users 30000] [--chunk 5000]\n' +
        '                 [--runtime dist|tsx] [--src worktree|<git rev>] [--profile] [--sql-trace] [--top 15]\n' +
        '                 [--broadcast-timeout 300] [--poll-ms 500] [--drain-timeout 120] [--quiet-wait 60]',
    );
    process.exit(0);
  }
  const num = numberArg;
  const only = onlyArg(values.only, SCENARIOS, 'scale');
  const runtime = values.runtime as Runtime;
  if (runtime !== 'dist' && runtime !== 'tsx')
    throw new Error(`--runtime must be dist or tsx, got ${runtime}`);
  const workers = num('workers', values.workers, 1);
  return {
    only: SCENARIOS.filter((s) => only.includes(s)),
    ceiling: !values['no-ceiling'],
    workers,
    databaseUrl: values['database-url']!,
    brokerUrl: values['broker-url']!,
    brokerCount: num('broker-count', values['broker-count'], 100),
    brokerWindow: num('broker-window', values['broker-window'], 1),
    brokerPrefetch: num('broker-prefetch', values['broker-prefetch'], 1),
    brokerConsumers: num('broker-consumers', values['broker-consumers'] ?? String(workers), 1),
    duration: num('duration', values.duration, 1),
    warmup: num('warmup', values.warmup, 0),
    connections: num('connections', values.connections, 1),
    users: num('users', values.users, 1),
    importChunk: num('chunk', values.chunk, 1),
    runtime,
    src: values.src!,
    profile: values.profile!,
    sqlTrace: values['sql-trace']!,
    top: num('top', values.top, 1),
    broadcastTimeoutS: num('broadcast-timeout', values['broadcast-timeout'], 1),
    pollMs: num('poll-ms', values['poll-ms'], 10),
    drainTimeoutS: num('drain-timeout', values['drain-timeout'], 1),
    quietWaitS: num('quiet-wait', values['quiet-wait'], 0),
  };
}

type Cli = ReturnType<typeof parseScaleCli>;

/** Fails early, with what to start, when PostgreSQL or RabbitMQ does not answer. */
async function checkServices(cli: Cli): Promise<void> {
  defaultPgUser();
  const client = new pg.Client({
    connectionString: cli.databaseUrl,
    connectionTimeoutMillis: 5_000,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
    await client.query('select 1');
  } catch (err) {
    throw new Error(
      `PostgreSQL at ${cli.databaseUrl} does not answer (${(err as Error).message}); start it or pass --database-url`,
    );
  } finally {
    await client.end().catch(() => undefined);
  }
  try {
    // A broker out of file descriptors takes the socket and never answers: do not wait forever.
    const connection = await connect(cli.brokerUrl, {
      timeout: 10_000,
      clientProperties: { connection_name: 'herald bench check' },
    });
    await connection.close();
  } catch (err) {
    throw new Error(
      `RabbitMQ at ${cli.brokerUrl.replace(/\/\/[^@/]*@/, '//***@')} does not answer (${(err as Error).message}); start it or pass --broker-url`,
    );
  }
}

interface Results {
  brokerIngest?: BrokerCeilingResult;
  brokerBroadcast?: BrokerCeilingResult;
  ingest?: ScaleIngestResult;
  broadcast?: ScaleBroadcastResult;
}

async function ceiling(cli: Cli, profile: CeilingProfile, log: (line: string) => void) {
  // A prefix of its own (no schema is created under it; the release drops none then).
  const { spec, resource } = reserveRun(cli.databaseUrl, cli.brokerUrl);
  try {
    return await runBrokerCeiling({
      url: cli.brokerUrl,
      prefix: ceilingPrefix(spec.name),
      profile,
      count: cli.brokerCount,
      window: cli.brokerWindow,
      prefetch: cli.brokerPrefetch,
      consumers: cli.brokerConsumers,
      timeoutS: 180,
      log,
    });
  } finally {
    await releaseResource(resource);
  }
}

const pct = (share: number) => `${Math.round(share * 100)} %`;

function logRows(sec: string, logs: Record<string, { lines: number }>, rows: Row[]): void {
  const noisy = Object.entries(logs).filter(([, l]) => l.lines > 0);
  if (noisy.length > 0)
    rows.push([
      sec,
      'log lines at warn or above (see the JSON)',
      noisy.map(([name, l]) => `${name} ${l.lines}`).join(', '),
      '0',
      verdict(false),
    ]);
}

function usageRows(sec: string, u: UsageReport, rows: Row[]): void {
  for (const p of u.processes) {
    rows.push([
      sec,
      `${p.name}: CPU cores / waiting for a CPU / peak RSS (MiB)`,
      `${p.cores === null ? '?' : p.cores.toFixed(2)} / ${p.runQueueWait === null ? '?' : p.runQueueWait.toFixed(2)} / ${mib(p.peakRssKb).toFixed(0)}`,
      '',
      '',
    ]);
  }
  rows.push([
    sec,
    'RabbitMQ / PostgreSQL CPU cores (all users)',
    `${((u.services['beam.smp'] ?? 0) / u.windowS).toFixed(2)} / ${((u.services.postgres ?? 0) / u.windowS).toFixed(2)}`,
    '',
    '',
  ]);
}

function brokerRows(b: BrokerCeilingResult, rows: Row[]): void {
  const sec = `broker ceiling (${b.profile} jobs)`;
  rows.push([sec, 'round trip publish → consume → ack (msgs/s)', int(b.roundTripPerS), '', '']);
  rows.push([sec, 'publish → confirm, meanwhile (msgs/s)', int(b.publishPerS), '', '']);
  rows.push([
    sec,
    'message: body bytes per queue + headers',
    `${Object.entries(b.bodyBytes)
      .map(([t, n]) => `${t} ${n}`)
      .join(', ')} + ~${b.headerBytes}`,
    '',
    '',
  ]);
  rows.push([
    sec,
    'messages / unconfirmed window / prefetch / consumers',
    `${int(b.count)} / ${b.window} / ${b.prefetch} / ${b.consumers}`,
    '',
    '',
  ]);
  rows.push([
    sec,
    'RabbitMQ CPU cores (all users)',
    ((b.usage.services['beam.smp'] ?? 0) / b.usage.windowS).toFixed(2),
    '',
    '',
  ]);
}

function tableRows(results: Results, errors: Partial<Record<string, string>>, cli: Cli): Row[] {
  const rows: Row[] = [];
  const { brokerIngest: bi, brokerBroadcast: bb, ingest: i, broadcast: b } = results;
  if (bi) brokerRows(bi, rows);
  if (i) {
    const sec = `ingest (1 api + ${i.workers} workers)`;
    rows.push([sec, 'accepted/s (2xx ÷ duration)', int(i.load.perSecond), '', '']);
    rows.push([
      sec,
      'latency p50 / p99 (ms)',
      `${i.load.latencyMs.p50} / ${i.load.latencyMs.p99}`,
      '',
      '',
    ]);
    rows.push([
      sec,
      'non-2xx / errors / timeouts',
      `${i.load.non2xx} / ${i.load.errors} / ${i.load.timeouts}`,
      '0',
      verdict(i.load.non2xx + i.load.errors + i.load.timeouts === 0),
    ]);
    rows.push([sec, 'deliveries final during the load (/s)', int(i.deliveredPerS), '', '']);
    if (bi)
      rows.push([
        sec,
        'deliveries/s ÷ broker round trips/s',
        pct(i.deliveredPerS / bi.roundTripPerS),
        `≥ ${pct(TARGETS.shareOfBroker)}`,
        verdict(i.deliveredPerS / bi.roundTripPerS >= TARGETS.shareOfBroker),
      ]);
    rows.push([
      sec,
      'backlog final after load ends (s)',
      i.drainAfterLoadS === null
        ? `timeout (${int(i.finalDeliveries)}/${int(i.acceptedTotal)})`
        : i.drainAfterLoadS.toFixed(1),
      '',
      '',
    ]);
    if (i.cpuUsPerAccepted !== null)
      rows.push([
        sec,
        'Herald CPU per accepted msg (µs, all processes)',
        int(i.cpuUsPerAccepted),
        '',
        '',
      ]);
    rows.push([sec, 'load generator CPU (cores)', i.clientCpu.toFixed(2), '', '']);
    usageRows(sec, i.usage, rows);
    logRows(sec, i.logs, rows);
  }
  if (bb) brokerRows(bb, rows);
  if (b) {
    const sec = `broadcast (1 api + ${b.workers} workers)`;
    rows.push([
      sec,
      `users imported (${b.import.chunks} × POST /v1/users/import)`,
      `${int(b.users)} in ${(b.import.ms / 1000).toFixed(1)} s`,
      '',
      '',
    ]);
    rows.push([sec, 'POST → 202 (ms)', b.postMs.toFixed(0), '', '']);
    if (b.serverFirstFinalS !== null && b.serverFanoutS !== null)
      rows.push([
        sec,
        'server-side: first delivery final / fan-out done (s)',
        `${b.serverFirstFinalS.toFixed(2)} / ${b.serverFanoutS.toFixed(2)}`,
        '',
        '',
      ]);
    rows.push([
      sec,
      `POST → all ${int(b.expectedDeliveries)} final, as the polls saw it (s)`,
      b.finalS === null ? `timeout ${cli.broadcastTimeoutS}` : b.finalS.toFixed(1),
      '',
      '',
    ]);
    rows.push([
      sec,
      'server-side: created → last final_at (s)',
      b.serverFinalS === null ? '—' : b.serverFinalS.toFixed(2),
      `≤ ${TARGETS.broadcastFinalS}`,
      verdict(b.measuredFinalS !== null && b.measuredFinalS <= TARGETS.broadcastFinalS),
    ]);
    rows.push([
      sec,
      'deliveries/s (server-side)',
      b.deliveriesPerS === null ? '—' : int(b.deliveriesPerS),
      '',
      '',
    ]);
    if (bb)
      rows.push([
        sec,
        'deliveries/s ÷ broker round trips/s',
        b.deliveriesPerS === null ? '—' : pct(b.deliveriesPerS / bb.roundTripPerS),
        `≥ ${pct(TARGETS.shareOfBroker)}`,
        verdict(
          b.deliveriesPerS !== null && b.deliveriesPerS / bb.roundTripPerS >= TARGETS.shareOfBroker,
        ),
      ]);
    if (b.measuredFinalS !== null)
      rows.push([
        sec,
        `broker messages/s (~${int(b.deliveryJobs + 1)} jobs ÷ time to final)`,
        int((b.deliveryJobs + 1) / b.measuredFinalS),
        '',
        '',
      ]);
    rows.push([
      sec,
      'GET message while it runs: first / p50 / max (ms)',
      `${b.pollLatencyMs.first.toFixed(0)} / ${b.pollLatencyMs.p50.toFixed(0)} / ${b.pollLatencyMs.max.toFixed(0)}`,
      '',
      '',
    ]);
    if (b.cpuUsPerDelivery !== null)
      rows.push([
        sec,
        'Herald CPU per delivery (µs, all processes)',
        int(b.cpuUsPerDelivery),
        '',
        '',
      ]);
    usageRows(sec, b.usage, rows);
    logRows(sec, b.logs, rows);
    rows.push([
      sec,
      'final statuses',
      Object.entries(b.totals)
        .map(([k, v]) => `${k} ${int(v)}`)
        .join(', '),
      '',
      '',
    ]);
  }
  for (const d of b?.notDelivered ?? [])
    rows.push([
      `broadcast (1 api + ${b!.workers} workers)`,
      `not delivered: ${d.channel} ${d.status}`,
      `${int(d.n)}: ${d.reason ?? ''} ${(d.last_error ?? '').slice(0, 80)}`.trim(),
      '',
      '',
    ]);
  for (const [s, e] of Object.entries(errors))
    rows.push([s, 'FAILED', (e ?? '').split('\n')[0]!.slice(0, 60), '', '']);
  return rows;
}

export async function runScaleMode(args: string[]): Promise<void> {
  const cli = parseScaleCli(args);
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const resultsDir = join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const artifacts = join(resultsDir, 'profiles', `${stamp}-scale`);
  const profileRoot = cli.profile ? artifacts : null;
  const sqlTraceRoot = cli.sqlTrace ? artifacts : null;
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const machine = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemMiB: Math.round(totalmem() / 1024 / 1024),
    loadavgAtStart: loadavg(),
  };
  const gitInfo = {
    commit: git(['rev-parse', 'HEAD']),
    dirtySrc: (git(['status', '--porcelain', '--', 'src']) ?? '').split('\n').filter(Boolean),
  };
  log(
    `Herald bench ${stamp}, scale-out mode: ${cli.only.join(', ')}; 1 api + ${cli.workers} workers; ` +
      `node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}; runtime ${cli.runtime}${cli.profile ? ', CPU-profiled' : ''}`,
  );
  await checkServices(cli);
  await sweepLeftovers(log);

  const herald = cli.only.filter((s) => s !== 'broker');
  let build: BuildInfo | null = null;
  if (cli.runtime === 'dist' && herald.length > 0) build = await buildAndCheck(cli.src, log);

  const opts: ScaleOptions = { ...cli, profileRoot, sqlTraceRoot, log };
  const results: Results = {};
  const errors: Partial<Record<string, string>> = {};
  const quiet: Record<string, Quiet> = {};
  const steps: { name: string; run: () => Promise<void> }[] = [];
  const wantsCeiling = (profile: CeilingProfile) =>
    cli.only.includes('broker') || (cli.ceiling && cli.only.includes(profile));
  if (wantsCeiling('ingest'))
    steps.push({
      name: 'broker (ingest jobs)',
      run: async () => void (results.brokerIngest = await ceiling(cli, 'ingest', log)),
    });
  if (cli.only.includes('ingest'))
    steps.push({
      name: 'ingest',
      run: async () => void (results.ingest = await runScaleIngest(opts)),
    });
  if (wantsCeiling('broadcast'))
    steps.push({
      name: 'broker (broadcast jobs)',
      run: async () => void (results.brokerBroadcast = await ceiling(cli, 'broadcast', log)),
    });
  if (cli.only.includes('broadcast'))
    steps.push({
      name: 'broadcast',
      run: async () => void (results.broadcast = await runScaleBroadcast(opts)),
    });

  for (const step of steps) {
    log(`\n[scale: ${step.name}]`);
    if (cli.quietWaitS > 0) {
      const q = await waitForQuiet(cli.quietWaitS, 0.25, log);
      quiet[step.name] = q;
      if (!q.quiet)
        log(`  still ${Math.round(q.busy * 100)}% busy: measuring anyway (numbers will be low)`);
    }
    const t = performance.now();
    try {
      await step.run();
      log(`  done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    } catch (err) {
      errors[step.name] = (err as Error).stack ?? String(err);
      log(`  FAILED: ${(err as Error).message.split('\n').slice(0, 20).join('\n  ')}`);
    }
  }

  const rows = tableRows(results, errors, cli);
  const file = join(resultsDir, `${stamp}-scale.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        mode: 'scale',
        startedAt: startedAt.toISOString(),
        finishedAt: new Date().toISOString(),
        options: { ...cli, brokerUrl: cli.brokerUrl.replace(/\/\/[^@/]*@/, '//***@'), profileRoot },
        machine,
        git: gitInfo,
        build,
        targets: TARGETS,
        results,
        errors,
        quietBeforeScenario: quiet,
        loadavgAtEnd: loadavg(),
        table: rows,
      },
      null,
      2,
    ) + '\n',
  );

  const out: string[] = [
    '',
    `Herald bench — scale-out: PostgreSQL + RabbitMQ, 1 herald api + ${cli.workers} herald worker processes (${cli.runtime}` +
      `${cli.runtime === 'dist' ? `: node main.js of a tsc build of src/ @ ${cli.src}${build?.commit ? ` = ${build.commit.slice(0, 8)}` : ''}` : ': node --import tsx src/main.ts'}), ` +
      `log level warn, demo seed, a fresh schema and broker prefix per scenario; ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}` +
      `${cli.profile ? '; under --cpu-prof (adds overhead)' : ''}`,
    `load: autocannon, ${cli.connections} connections, ${cli.duration} s measured after ${cli.warmup} s warm-up; broadcast: ${int(cli.users)} users × in_app + sms (sandbox); ` +
      `broker ceiling: amqplib, persistent + mandatory, confirms (≤ ${cli.brokerWindow} unconfirmed), prefetch ${cli.brokerPrefetch}, ${cli.brokerConsumers} consumers, quorum queues`,
    '',
    renderTable(rows),
    '',
  ];
  if (results.ingest && results.ingest.load.ok2xx > 0)
    out.push(
      `Rows written per accepted message (ingest): ${formatTableWrites(results.ingest.tableWrites, results.ingest.load.ok2xx)}`,
    );
  if (results.broadcast)
    out.push(
      `Rows written per delivery (broadcast): ${formatTableWrites(results.broadcast.tableWrites, results.broadcast.expectedDeliveries)}`,
    );
  for (const [scenario, logs] of [
    ['ingest', results.ingest?.logs],
    ['broadcast', results.broadcast?.logs],
  ] as const) {
    for (const [name, l] of Object.entries(logs ?? {}))
      if (l.lines > 0)
        out.push(`${scenario}, ${name} logged ${l.lines} lines; last: ${l.last.at(-1)}`);
  }
  out.push('');
  const profiles: [string, Record<string, ProfileSummary | null> | undefined][] = [
    ['ingest', results.ingest?.profiles],
    ['broadcast', results.broadcast?.profiles],
  ];
  for (const [scenario, byProcess] of profiles) {
    for (const [name, summary] of Object.entries(byProcess ?? {})) {
      if (summary)
        out.push(
          formatProfileSummary(`CPU profile — ${scenario}, ${name}`, {
            ...summary,
            file: relative(ROOT, summary.file),
          }),
          '',
        );
    }
  }
  for (const [scenario, byProcess] of [
    ['ingest', results.ingest?.sql],
    ['broadcast', results.broadcast?.sql],
  ] as const) {
    for (const [name, summary] of Object.entries(byProcess ?? {}))
      if (summary)
        out.push(
          formatSqlSummary(`SQL — ${scenario}, ${name}`, summary, 'PostgreSQL round trips'),
          '',
        );
  }
  out.push(`results: ${relative(ROOT, file)}`);
  console.log(out.join('\n'));
  process.exit(Object.keys(errors).length > 0 ? 1 : 0);
}
