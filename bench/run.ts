/**
 * `npm run bench` — Herald on the embedded default (SQLite + embedded queue), each scenario in
 * a fresh data folder with Herald as a child process, against the issue's targets, with the
 * machine's ceiling measured in the same run. Prints a table; writes bench/results/<ts>.json.
 *
 *   npm run bench -- [--only ceiling,ingest,ingest-api,broadcast,queue,email,email-broadcast,email-broadcast-fail]
 *                    [--duration 10] [--warmup 2]
 *                    [--connections 50] [--users 30000] [--chunk 5000] [--runtime dist|tsx]
 *                    [--src worktree|<git rev>] [--email-count 20000] [--email-connections 5]
 *                    [--no-email-compare] [--email-fail-rate 0.2] [--email-retry-base-ms 250]
 *                    [--profile] [--sql-trace] [--top 15] [--no-ceiling] [--broadcast-timeout 300]
 *                    [--drain-timeout 120] [--quiet-wait 60]
 *
 * `--only ingest` still measures the ceiling beside it (use --no-ceiling to skip it).
 * `--mode scale` runs the scale-out scenarios instead (PostgreSQL + RabbitMQ, one api and
 * several worker processes; see bench/scale-run.ts); `--mode embedded` is the default.
 * `--profile` runs Herald under `node --cpu-prof` and prints the top self-time functions of
 * the measured window of each scenario; the .cpuprofile files stay in bench/results/profiles/.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT, type BuildInfo, type Runtime } from './lib/child.js';
import { buildAndCheck, git } from './lib/build-check.js';
import { int, mib, renderTable, verdict, type Row } from './lib/report.js';
import { numberArg, onlyArg } from './lib/cli-args.js';
import { installCleanupHandlers } from './lib/cleanup.js';
import { waitForQuiet, type Quiet } from './lib/procfs.js';
import { formatProfileSummary } from './lib/cpu-profile.js';
import { formatSqlSummary } from './lib/sql-summary.js';
import type { BenchOptions } from './scenarios/common.js';
import { runCeiling, type CeilingResult } from './scenarios/ceiling.js';
import { runIngest, type IngestResult } from './scenarios/ingest.js';
import { runBroadcast, type BroadcastResult } from './scenarios/broadcast.js';
import { runQueue, type QueueResult } from './scenarios/queue.js';
import { runEmailProvider, type EmailProviderResult } from './scenarios/email-provider.js';
import { runEmailBroadcast, type EmailBroadcastResult } from './scenarios/email-broadcast.js';

/** `ingest-api` is a diagnostic: the same load on Herald's `api` role alone (no workers). */
const SCENARIOS = [
  'ceiling',
  'ingest',
  'ingest-api',
  'broadcast',
  'queue',
  'email',
  'email-broadcast',
  'email-broadcast-fail',
] as const;
type Scenario = (typeof SCENARIOS)[number];

const TARGETS = {
  ingestPerS: 3_000,
  ingestP99Ms: 50,
  broadcastFinalS: 6,
  broadcastPerS: 10_000,
  broadcastRssMiB: 300,
  emailPerS: 1_000,
};

/** `--mode embedded|scale` (or `--mode=…`), and the remaining arguments for that mode. */
function splitMode(argv: readonly string[]): { mode: string; rest: string[] } {
  const rest: string[] = [];
  let mode = 'embedded';
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--mode') mode = argv[++i] ?? '';
    else if (a.startsWith('--mode=')) mode = a.slice('--mode='.length);
    else rest.push(a);
  }
  if (mode !== 'embedded' && mode !== 'scale')
    throw new Error(`--mode must be embedded or scale, got "${mode}"`);
  return { mode, rest };
}

function parseCli(args: string[]) {
  const { values } = parseArgs({
    args,
    options: {
      only: { type: 'string' },
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
      'no-ceiling': { type: 'boolean', default: false },
      'broadcast-timeout': { type: 'string', default: '300' },
      'drain-timeout': { type: 'string', default: '120' },
      'quiet-wait': { type: 'string', default: '60' },
      'email-count': { type: 'string', default: '20000' },
      'email-connections': { type: 'string', default: '5' },
      'no-email-compare': { type: 'boolean', default: false },
      'email-fail-rate': { type: 'string', default: '0.2' },
      'email-retry-base-ms': { type: 'string', default: '250' },
      help: { type: 'boolean', short: 'h', default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      'npm run bench -- [--mode embedded|scale] (scale: npm run bench -- --mode scale --help)\n' +
        'npm run bench -- [--only ceiling,ingest,ingest-api,broadcast,queue,email,email-broadcast,email-broadcast-fail] [--duration 10] [--warmup 2] [--connections 50]\n' +
        '                 [--users 30000] [--chunk 5000] [--runtime dist|tsx] [--src worktree|<git rev>] [--profile] [--sql-trace] [--top 15] [--no-ceiling]\n' +
        '                 [--broadcast-timeout 300] [--drain-timeout 120] [--quiet-wait 60]\n' +
        '                 [--email-count 20000] [--email-connections 5] [--no-email-compare] [--email-fail-rate 0.2] [--email-retry-base-ms 250]',
    );
    process.exit(0);
  }
  const num = numberArg;
  let only = onlyArg(values.only, SCENARIOS, 'embedded');
  if (values.only) {
    // The ceiling is the denominator of ingest: measure it in the same run.
    if ((only.includes('ingest') || only.includes('ingest-api')) && !only.includes('ceiling'))
      only.unshift('ceiling');
  }
  if (values['no-ceiling']) only = only.filter((s) => s !== 'ceiling');
  const runtime = values.runtime as Runtime;
  if (runtime !== 'dist' && runtime !== 'tsx')
    throw new Error(`--runtime must be dist or tsx, got ${runtime}`);
  return {
    only: SCENARIOS.filter((s) => only.includes(s)),
    runtime,
    src: values.src!,
    profile: values.profile!,
    sqlTrace: values['sql-trace']!,
    duration: num('duration', values.duration, 1),
    warmup: num('warmup', values.warmup, 0),
    connections: num('connections', values.connections, 1),
    users: num('users', values.users, 1),
    importChunk: num('chunk', values.chunk, 1),
    top: num('top', values.top, 1),
    broadcastTimeoutS: num('broadcast-timeout', values['broadcast-timeout'], 1),
    drainTimeoutS: num('drain-timeout', values['drain-timeout'], 1),
    quietWaitS: num('quiet-wait', values['quiet-wait'], 0),
    emailCount: num('email-count', values['email-count'], 1),
    emailConnections: num('email-connections', values['email-connections'], 1),
    emailCompare: !values['no-email-compare'],
    emailFailRate: num('email-fail-rate', values['email-fail-rate'], 0),
    emailRetryBaseMs: num('email-retry-base-ms', values['email-retry-base-ms'], 10),
  };
}

async function main(): Promise<void> {
  installCleanupHandlers();
  const { mode, rest } = splitMode(process.argv.slice(2));
  // Loaded only when asked for: it brings amqplib, pg and the broker topology.
  if (mode === 'scale') return (await import('./scale-run.js')).runScaleMode(rest);
  const cli = parseCli(rest);
  const startedAt = new Date();
  const stamp = startedAt.toISOString().replace(/[:.]/g, '-');
  const resultsDir = join(ROOT, 'bench/results');
  mkdirSync(resultsDir, { recursive: true });
  const artifacts = join(resultsDir, 'profiles', stamp);
  const profileRoot = cli.profile ? artifacts : null;
  const sqlTraceRoot = cli.sqlTrace ? artifacts : null;
  if (sqlTraceRoot) mkdirSync(sqlTraceRoot, { recursive: true });
  const log = (line: string) => process.stderr.write(`${line}\n`);
  const opts: BenchOptions = { ...cli, profileRoot, sqlTraceRoot, log };

  const machine = {
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model ?? 'unknown',
    totalMemMiB: Math.round(totalmem() / 1024 / 1024),
    loadavgAtStart: loadavg(),
  };
  const gitInfo = {
    commit: git(['rev-parse', 'HEAD']),
    /** Uncommitted changes in src/ when the run started (the worktree build includes them). */
    dirtySrc: (git(['status', '--porcelain', '--', 'src']) ?? '').split('\n').filter(Boolean),
  };
  log(
    `Herald bench ${stamp}: ${cli.only.join(', ')}; node ${machine.node}, ${machine.cpus} × ${machine.cpuModel}; ` +
      `runtime ${cli.runtime}${cli.profile ? ', CPU-profiled' : ''}`,
  );

  let build: BuildInfo | null = null;
  if (
    cli.runtime === 'dist' &&
    cli.only.some(
      (s) =>
        s === 'ingest' ||
        s === 'ingest-api' ||
        s === 'broadcast' ||
        s === 'email-broadcast' ||
        s === 'email-broadcast-fail',
    )
  ) {
    build = await buildAndCheck(cli.src, log);
  }

  const results: {
    ceiling?: CeilingResult;
    ingest?: IngestResult;
    ingestApi?: IngestResult;
    broadcast?: BroadcastResult;
    queue?: QueueResult;
    email?: EmailProviderResult;
    emailBroadcast?: EmailBroadcastResult;
    emailBroadcastFail?: EmailBroadcastResult;
  } = {};
  const errors: Partial<Record<Scenario, string>> = {};
  const quiet: Partial<Record<Scenario, Quiet>> = {};
  const runners: Record<Scenario, () => Promise<void>> = {
    ceiling: async () => void (results.ceiling = await runCeiling(opts)),
    ingest: async () => void (results.ingest = await runIngest(opts)),
    'ingest-api': async () => void (results.ingestApi = await runIngest(opts, 'api')),
    broadcast: async () => void (results.broadcast = await runBroadcast(opts)),
    queue: async () => void (results.queue = await runQueue()),
    email: async () => void (results.email = await runEmailProvider({ ...opts, ...cli })),
    'email-broadcast': async () =>
      void (results.emailBroadcast = await runEmailBroadcast(opts, 0, cli.emailRetryBaseMs)),
    'email-broadcast-fail': async () =>
      void (results.emailBroadcastFail = await runEmailBroadcast(
        opts,
        cli.emailFailRate,
        cli.emailRetryBaseMs,
      )),
  };
  for (const s of cli.only) {
    log(`\n[${s}]`);
    if (cli.quietWaitS > 0) {
      quiet[s] = await waitForQuiet(cli.quietWaitS, 0.25, log);
      if (!quiet[s]!.quiet)
        log(
          `  still ${Math.round(quiet[s]!.busy * 100)}% busy: measuring anyway (numbers will be low)`,
        );
    }
    const t = performance.now();
    try {
      await runners[s]();
      log(`  done in ${((performance.now() - t) / 1000).toFixed(1)} s`);
    } catch (err) {
      errors[s] = (err as Error).stack ?? String(err);
      log(`  FAILED: ${(err as Error).message.split('\n').slice(0, 20).join('\n  ')}`);
    }
  }

  // ---- table --------------------------------------------------------------------------------
  const rows: Row[] = [];
  const c = results.ceiling;
  if (c) {
    rows.push(['ceiling', 'bare Fastify POST → 202 (req/s)', int(c.load.perSecond), '', '']);
    rows.push([
      'ceiling',
      'latency p50 / p99 (ms)',
      `${c.load.latencyMs.p50} / ${c.load.latencyMs.p99}`,
      '',
      '',
    ]);
    if (c.serverCpuUsPerRequest !== null)
      rows.push(['ceiling', 'server CPU per request (µs)', int(c.serverCpuUsPerRequest), '', '']);
  }
  const i = results.ingest;
  if (i) {
    rows.push([
      'ingest',
      'accepted/s (2xx ÷ duration)',
      int(i.load.perSecond),
      `≥ ${int(TARGETS.ingestPerS)}`,
      verdict(i.load.perSecond >= TARGETS.ingestPerS),
    ]);
    rows.push(['ingest', 'latency p50 (ms)', String(i.load.latencyMs.p50), '', '']);
    rows.push([
      'ingest',
      'latency p99 (ms)',
      String(i.load.latencyMs.p99),
      `≤ ${TARGETS.ingestP99Ms}`,
      verdict(i.load.latencyMs.p99 <= TARGETS.ingestP99Ms),
    ]);
    rows.push([
      'ingest',
      'non-2xx / errors / timeouts',
      `${i.load.non2xx} / ${i.load.errors} / ${i.load.timeouts}`,
      '0',
      verdict(i.load.non2xx + i.load.errors + i.load.timeouts === 0),
    ]);
    if (c)
      rows.push([
        'ingest',
        'share of the Fastify ceiling',
        `${Math.round((i.load.perSecond / c.load.perSecond) * 100)} %`,
        '',
        '',
      ]);
    if (i.cpuUsPerAccepted !== null)
      rows.push(['ingest', 'Herald CPU per accepted msg (µs)', int(i.cpuUsPerAccepted), '', '']);
    if (i.heraldCores !== null)
      rows.push([
        'ingest',
        'Herald CPU / load generator CPU (cores)',
        `${i.heraldCores.toFixed(2)} / ${i.clientCpu.toFixed(2)}`,
        '',
        '',
      ]);
    rows.push(['ingest', 'peak RSS during load (MiB)', mib(i.memory.peakRssKb).toFixed(0), '', '']);
    rows.push([
      'ingest',
      'backlog final after load ends (s)',
      i.drainAfterLoadS === null
        ? `timeout (${int(i.finalDeliveries)}/${int(i.acceptedTotal)})`
        : i.drainAfterLoadS.toFixed(1),
      '',
      '',
    ]);
  }
  const a = results.ingestApi;
  if (a) {
    const sec = 'ingest, api role alone';
    rows.push([sec, 'accepted/s (no workers in the process)', int(a.load.perSecond), '', '']);
    rows.push([
      sec,
      'latency p50 / p99 (ms)',
      `${a.load.latencyMs.p50} / ${a.load.latencyMs.p99}`,
      '',
      '',
    ]);
    rows.push([
      sec,
      'non-2xx / errors / timeouts',
      `${a.load.non2xx} / ${a.load.errors} / ${a.load.timeouts}`,
      '',
      '',
    ]);
    if (c)
      rows.push([
        sec,
        'share of the Fastify ceiling',
        `${Math.round((a.load.perSecond / c.load.perSecond) * 100)} %`,
        '',
        '',
      ]);
    if (a.cpuUsPerAccepted !== null)
      rows.push([sec, 'Herald CPU per accepted msg (µs)', int(a.cpuUsPerAccepted), '', '']);
  }
  const b = results.broadcast;
  if (b) {
    rows.push([
      'broadcast',
      `users imported (${b.import.chunks} × POST /v1/users/import)`,
      `${int(b.users)} in ${(b.import.ms / 1000).toFixed(1)} s`,
      '',
      '',
    ]);
    rows.push(['broadcast', 'POST → 202 (ms)', b.postMs.toFixed(0), '', '']);
    if (b.serverFirstFinalS !== null && b.serverFanoutS !== null)
      rows.push([
        'broadcast',
        'server-side: first delivery final / fan-out done (s)',
        `${b.serverFirstFinalS.toFixed(2)} / ${b.serverFanoutS.toFixed(2)}`,
        '',
        '',
      ]);
    rows.push([
      'broadcast',
      `POST → all ${int(b.expectedDeliveries)} final (s)`,
      b.finalS === null ? `timeout ${opts.broadcastTimeoutS}` : b.finalS.toFixed(1),
      `≤ ${TARGETS.broadcastFinalS}`,
      verdict(b.finalS === null ? false : b.finalS <= TARGETS.broadcastFinalS),
    ]);
    if (b.serverFinalS !== null)
      rows.push([
        'broadcast',
        'server-side: created → last final_at (s)',
        b.serverFinalS.toFixed(2),
        '',
        '',
      ]);
    rows.push([
      'broadcast',
      'deliveries/s',
      b.deliveriesPerS === null ? '—' : int(b.deliveriesPerS),
      `≥ ${int(TARGETS.broadcastPerS)}`,
      verdict(b.deliveriesPerS === null ? false : b.deliveriesPerS >= TARGETS.broadcastPerS),
    ]);
    const peak = mib(Math.max(b.memory.peakRssKb, b.memory.hwmReset ? b.memory.hwmKb : 0));
    rows.push([
      'broadcast',
      `peak RSS (MiB; idle before: ${mib(b.memory.startRssKb).toFixed(0)})`,
      peak.toFixed(0),
      `≤ ${TARGETS.broadcastRssMiB}`,
      verdict(peak <= TARGETS.broadcastRssMiB),
    ]);
    rows.push([
      'broadcast',
      `GET message while it runs: first / p50 / max (ms)`,
      `${b.pollLatencyMs.first.toFixed(0)} / ${b.pollLatencyMs.p50.toFixed(0)} / ${b.pollLatencyMs.max.toFixed(0)}`,
      '',
      '',
    ]);
    if (b.cpuUsPerDelivery !== null)
      rows.push(['broadcast', 'Herald CPU per delivery (µs)', int(b.cpuUsPerDelivery), '', '']);
    rows.push([
      'broadcast',
      'final statuses',
      Object.entries(b.totals)
        .map(([k, v]) => `${k} ${int(v)}`)
        .join(', '),
      '',
      '',
    ]);
  }
  const q = results.queue;
  if (q) {
    rows.push([
      'queue (embedded, alone)',
      'enqueue, 500/txn (jobs/s)',
      q.enqueuePerS === null ? '?' : int(q.enqueuePerS),
      '',
      '',
    ]);
    rows.push([
      'queue (embedded, alone)',
      'lease+ack, 200/round (jobs/s)',
      q.leaseAckPerS === null ? '?' : int(q.leaseAckPerS),
      '',
      '',
    ]);
  }
  for (const run of results.email?.runs ?? []) {
    const sec =
      run.mode === 'provider'
        ? `email: EmailProvider → SMTP sink (${run.connections} connections)`
        : `email: nodemailer composing, same pool (before)`;
    rows.push([
      sec,
      `mails/s (${int(run.ok)}/${int(run.count)} accepted)`,
      int(run.mailsPerS),
      run.mode === 'provider' ? `≥ ${int(TARGETS.emailPerS)}` : '',
      run.mode === 'provider' ? verdict(run.mailsPerS >= TARGETS.emailPerS) : '',
    ]);
    rows.push([
      sec,
      'sender CPU per mail (ms) / sink CPU per mail (ms)',
      `${run.cpuMsPerMail.toFixed(3)} / ${run.sinkCpuMsPerMail?.toFixed(3) ?? '?'}`,
      '',
      '',
    ]);
  }
  for (const e of [results.emailBroadcast, results.emailBroadcastFail]) {
    if (!e) continue;
    const sec = `email broadcast ${int(e.users)} users${e.failRate > 0 ? `, sink fails ${Math.round(e.failRate * 100)}% (4xx), retry base ${e.retryBaseMs} ms` : ''}`;
    rows.push([
      sec,
      'POST → all final (s)',
      e.finalS === null ? `timeout ${opts.broadcastTimeoutS}` : e.finalS.toFixed(1),
      '',
      '',
    ]);
    if (e.serverFirstFinalS !== null && e.serverFinalS !== null)
      rows.push([
        sec,
        'server-side: first / last delivery final (s)',
        `${e.serverFirstFinalS.toFixed(2)} / ${e.serverFinalS.toFixed(2)}`,
        '',
        '',
      ]);
    rows.push([
      sec,
      'emails/s (accepted by the sink ÷ time to final)',
      e.emailsPerS === null ? '—' : int(e.emailsPerS),
      e.failRate === 0 ? `≥ ${int(TARGETS.emailPerS)}` : '',
      e.failRate === 0 ? verdict(e.emailsPerS !== null && e.emailsPerS >= TARGETS.emailPerS) : '',
    ]);
    rows.push([
      sec,
      'sink rate, first → last mail (emails/s)',
      e.sinkRatePerS === null ? '—' : int(e.sinkRatePerS),
      '',
      '',
    ]);
    rows.push([
      sec,
      'attempts per delivery (avg / max)',
      `${e.attempts.perDelivery.toFixed(3)} / ${e.attempts.max}`,
      '',
      '',
    ]);
    rows.push([
      sec,
      'sink: accepted / refused RCPT / refused DATA / duplicates',
      `${int(e.sink.accepted)} / ${int(e.sink.rcptRefused)} / ${int(e.sink.dataRefused)} / ${int(e.duplicates)}`,
      '',
      '',
    ]);
    if (e.cpuMsPerEmail !== null)
      rows.push([sec, 'Herald CPU per email (ms)', e.cpuMsPerEmail.toFixed(3), '', '']);
    rows.push([
      sec,
      'peak RSS (MiB)',
      mib(Math.max(e.memory.peakRssKb, e.memory.hwmReset ? e.memory.hwmKb : 0)).toFixed(0),
      '',
      '',
    ]);
    rows.push([
      sec,
      'final statuses',
      Object.entries(e.statuses)
        .map(([k, v]) => `${k} ${int(v)}`)
        .join(', '),
      '',
      '',
    ]);
  }
  for (const [s, e] of Object.entries(errors))
    rows.push([s, 'FAILED', e.split('\n')[0]!.slice(0, 60), '', '']);

  const finishedAt = new Date();
  const file = join(resultsDir, `${stamp}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        startedAt: startedAt.toISOString(),
        finishedAt: finishedAt.toISOString(),
        options: { ...cli, profileRoot },
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
    `Herald bench — embedded default (SQLite WAL FULL + embedded queue), Herald as a child process (${cli.runtime}` +
      `${cli.runtime === 'dist' ? `: node main.js of a tsc build of src/ @ ${cli.src}${build?.commit ? ` = ${build.commit.slice(0, 8)}` : ''}` : ': node --import tsx src/main.ts'}), ` +
      `log level warn, demo seed; ${machine.cpus} × ${machine.cpuModel}, node ${machine.node}` +
      `${cli.profile ? '; under --cpu-prof (adds overhead)' : ''}${cli.sqlTrace ? '; SQL-traced (adds overhead)' : ''}`,
    `load: autocannon, ${cli.connections} connections, ${cli.duration} s measured after ${cli.warmup} s warm-up; broadcast: ${int(cli.users)} users × in_app + sms (sandbox)`,
    '',
    renderTable(rows),
    '',
  ];
  for (const [name, r] of [
    ['ingest', results.ingest?.profile],
    ['ingest-api', results.ingestApi?.profile],
    ['broadcast', results.broadcast?.profile],
    ...(results.email?.runs ?? []).map((run) => [`email (${run.mode})`, run.profile] as const),
    ['email-broadcast', results.emailBroadcast?.profile],
    ['email-broadcast-fail', results.emailBroadcastFail?.profile],
  ] as const) {
    if (r)
      out.push(
        formatProfileSummary(`CPU profile — ${name}`, { ...r, file: relative(ROOT, r.file) }),
        '',
      );
  }
  for (const [name, r] of [
    ['ingest', results.ingest?.sql],
    ['ingest-api', results.ingestApi?.sql],
    ['broadcast', results.broadcast?.sql],
  ] as const) {
    if (r) out.push(formatSqlSummary(`SQL time — ${name}`, r), '');
  }
  out.push(`results: ${relative(ROOT, file)}`);
  console.log(out.join('\n'));
  // Exit now: idle keep-alive sockets of the load generator would otherwise hold the loop.
  process.exit(Object.keys(errors).length > 0 ? 1 : 0);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
