#!/usr/bin/env node
/**
 * The command line: `herald [all|api|worker|scheduler|migrate]`. Reads the configuration,
 * builds the app, prints the start banner and turns signals into a graceful shutdown.
 *
 * The app is imported only after the signal handlers are in place. Loading Herald's modules
 * is most of its start-up (a second or more on a busy machine, longer under tsx); with static
 * imports a SIGTERM in that time met Node's default action and killed the process by the
 * signal (exit code null, signal SIGTERM) instead of stopping it.
 */
import type { Herald, Role } from './app.js';
import { ConfigError, loadConfig } from './config/config.js';

const ROLES: readonly string[] = ['all', 'api', 'worker', 'scheduler'];

function banner(herald: Herald, url: string, examples: Record<string, unknown>): string {
  const lines = [
    ``,
    `  Herald is running at ${url}`,
    `  Message center: ${url}/`,
    `  Console:        ${url}/admin`,
    `  API docs:       ${url}/docs`,
    `  Metrics:        ${url}/metrics`,
  ];
  if (herald.generatedAdminToken) {
    lines.push(
      ``,
      `  Admin token (shown once; stored hashed — keep it, or set HERALD_ADMIN_TOKEN to replace it):`,
      `    ${herald.generatedAdminToken}`,
    );
  }
  const demo = herald.demo;
  if (demo) {
    lines.push(
      ``,
      `  Demo university seeded: ${demo.users} users; every user's password: ${demo.password}`,
    );
    lines.push(
      `    message center: e.g. ${demo.loginExamples.zh} (中文) and ${demo.loginExamples.en} (English)`,
      `    console (/admin): operator ${demo.loginExamples.operator}`,
    );
    lines.push(``, `  Demo source API keys (shown once):`);
    for (const [key, secret] of Object.entries(demo.apiKeys))
      lines.push(`    ${key.padEnd(4)} ${secret}`);
    const jwc = demo.apiKeys.jwc;
    if (jwc) {
      const body = JSON.stringify({
        category: 'exam.reminder',
        to: { users: [demo.loginExamples.zh] },
        data: examples['exam.reminder'],
      });
      lines.push(
        ``,
        `  Send an exam reminder now:`,
        `    curl -s -X POST ${url}/v1/messages -H 'Authorization: Bearer ${jwc}' -H 'Content-Type: application/json' -d '${body.replace(/'/g, "'\\''")}'`,
      );
    }
  }
  lines.push(``);
  return lines.join('\n');
}

/** Longest a graceful stop may take before the process gives up and exits 1. */
const FORCE_EXIT_MS = 30_000;

async function main(): Promise<void> {
  const command = process.argv[2] ?? 'all';
  const config = loadConfig();
  if (command === 'migrate') {
    const { openStore } = await import('./store/open-store.js');
    const store = await openStore(config, { migrate: true, applicationName: 'herald migrate' });
    const { applied } = store;
    console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'Database is up to date.');
    await store.close();
    return;
  }
  if (!ROLES.includes(command)) {
    console.error(`Usage: herald [${ROLES.join('|')}|migrate]`);
    process.exit(2);
  }
  const role = command as Role;

  // A signal before the role has started stops start-up where it is (nothing was taken yet);
  // one while it starts lets it finish, then stops it gracefully like any other.
  let herald: Herald | null = null;
  let started = false;
  let stopping: NodeJS.Signals | null = null;
  const shutDown = (h: Herald, signal: string): void => {
    h.log.info({ signal, role }, 'shutting down');
    h.close().then(
      () => process.exit(0),
      (err: unknown) => {
        h.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) return;
    stopping = signal;
    const force = setTimeout(() => {
      const parts = herald?.closingParts() ?? [];
      const waiting = parts.length ? `; still waiting for: ${parts.join(', ')}` : '';
      console.error(
        `Herald ${role}: graceful stop took over ${FORCE_EXIT_MS / 1000} s${waiting}; exiting`,
      );
      process.exit(1);
    }, FORCE_EXIT_MS);
    force.unref();
    if (herald && started) shutDown(herald, signal);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  const isStopping = (): boolean => stopping !== null;

  const { buildApp, DEMO_EXAMPLES } = await import('./app.js');
  if (isStopping()) process.exit(0);
  herald = await buildApp(config);
  if (isStopping()) {
    await herald.close();
    process.exit(0);
  }
  const url = await herald.start(role);
  started = true;
  if (role === 'api' || role === 'all') {
    process.stdout.write(banner(herald, config.publicUrl || url!, DEMO_EXAMPLES) + '\n');
  } else {
    const ops = url ? `; metrics at ${url}/metrics` : '';
    process.stdout.write(`\n  Herald ${role} is running (pid ${process.pid})${ops}\n\n`);
  }
  if (stopping) shutDown(herald, stopping);
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78);
  }
  console.error(err);
  process.exit(1);
});
