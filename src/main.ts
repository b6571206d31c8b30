#!/usr/bin/env node
/**
 * The command line: `herald [all|api|worker|scheduler|migrate]`. Reads the configuration,
 * builds the app, prints the start banner and turns signals into a graceful shutdown.
 */
import { buildApp, DEMO_EXAMPLES, type Herald, type Role } from './app.js';
import { ConfigError, loadConfig } from './config/config.js';
import { openStore } from './store/open-store.js';

const ROLES: readonly string[] = ['all', 'api', 'worker', 'scheduler'];

function banner(herald: Herald, url: string): string {
  const lines = [
    ``,
    `  Herald is running at ${url}`,
    `  API docs:  ${url}/docs`,
    `  Metrics:   ${url}/metrics`,
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
    lines.push(`    e.g. ${demo.loginExamples.zh} (中文) and ${demo.loginExamples.en} (English)`);
    lines.push(``, `  Demo source API keys (shown once):`);
    for (const [key, secret] of Object.entries(demo.apiKeys))
      lines.push(`    ${key.padEnd(4)} ${secret}`);
    const jwc = demo.apiKeys.jwc;
    if (jwc) {
      const body = JSON.stringify({
        category: 'exam.reminder',
        to: { users: [demo.loginExamples.zh] },
        data: DEMO_EXAMPLES['exam.reminder'],
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

async function main(): Promise<void> {
  const command = process.argv[2] ?? 'all';
  const config = loadConfig();
  if (command === 'migrate') {
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
  const herald = await buildApp(config);
  const url = await herald.start(command as Role);
  if (url) process.stdout.write(banner(herald, config.publicUrl || url) + '\n');
  else process.stdout.write(`\n  Herald ${command} is running (pid ${process.pid})\n\n`);

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    herald.log.info({ signal }, 'shutting down');
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    herald.close().then(
      () => process.exit(0),
      (err: unknown) => {
        herald.log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(78);
  }
  console.error(err);
  process.exit(1);
});
