/** The bench's SMTP sink (smtp-sink-server.ts) as a child process, and its counters. */
import { connect } from 'node:net';
import { join } from 'node:path';
import { ROOT, startChild, type StartedChild } from './child.js';
import type { SinkStats } from './smtp-sink-server.js';

export type { SinkStats };

export interface SmtpSinkChild {
  readonly port: number;
  readonly child: StartedChild;
  stats(): Promise<SinkStats>;
  reset(): Promise<void>;
  setFailRate(rate: number): Promise<void>;
  stop(): Promise<void>;
}

export async function startSmtpSink(failRate = 0): Promise<SmtpSinkChild> {
  const child = await startChild({
    name: 'smtp-sink',
    args: [
      '--import',
      'tsx',
      join(ROOT, 'bench/lib/smtp-sink-server.ts'),
      '--fail-rate',
      String(failRate),
    ],
    env: {},
    ready: /listening (\d+)/,
    startTimeoutMs: 30_000,
  });
  const port = Number(/listening (\d+)/.exec(child.output())![1]);
  const command = (line: string) => control(port, line);
  return {
    port,
    child,
    async stats() {
      return JSON.parse((await command('XSTATS')).slice(4)) as SinkStats;
    },
    async reset() {
      await command('XRESET');
    },
    async setFailRate(rate: number) {
      await command(`XFAIL ${rate}`);
    },
    async stop() {
      await child.stop(5_000);
    },
  };
}

/** One control command on its own connection: the reply line after the greeting. */
function control(port: number, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let buffer = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`smtp sink: no answer to ${line}`));
    }, 10_000);
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\r\n');
      if (lines.length >= 3) {
        clearTimeout(timer);
        socket.end('QUIT\r\n');
        const reply = lines[1]!;
        if (!reply.startsWith('250 ')) reject(new Error(`smtp sink: ${line} → ${reply}`));
        else resolve(reply);
      }
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.write(`${line}\r\n`);
  });
}
