/** Denominator: the embedded queue alone (bench/queue-embedded.ts, run as it is, in a child). */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../lib/child.js';
import { trackChild } from '../lib/cleanup.js';

export interface QueueResult {
  readonly enqueuePerS: number | null;
  readonly leaseAckPerS: number | null;
  readonly output: string;
}

export function runQueue(timeoutMs = 180_000): Promise<QueueResult> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      ['--import', 'tsx', join(ROOT, 'bench/queue-embedded.ts')],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH ?? '/usr/bin:/bin',
          ...(process.env.HOME ? { HOME: process.env.HOME } : {}),
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    trackChild(proc);
    let out = '';
    proc.stdout.on('data', (b: Buffer) => (out += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (out += b.toString()));
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`queue-embedded did not finish within ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    proc.on('exit', (code) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`queue-embedded exited with ${code}:\n${out}`));
      const rate = (label: string) => {
        const m = new RegExp(`^${label}.*?\\(([\\d,]+) jobs/s`, 'm').exec(out);
        return m ? Number(m[1]!.replace(/,/g, '')) : null;
      };
      resolve({
        enqueuePerS: rate('enqueue'),
        leaseAckPerS: rate('lease\\+ack'),
        output: out.trim(),
      });
    });
  });
}
