/**
 * (email a) The provider's own ceiling: N mails through EmailProvider (in a child process,
 * email-provider-child.ts) to the bench's SMTP sink (another child) → mails/s and the
 * sender's CPU per mail. The same mails composed by nodemailer itself run beside it as the
 * point of comparison (`--email-compare`).
 */
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ProfileSummary } from '../lib/cpu-profile.js';
import { newProfileDir, ROOT } from '../lib/child.js';
import { trackChild } from '../lib/cleanup.js';
import { readCpuSeconds } from '../lib/procfs.js';
import { startSmtpSink } from '../lib/smtp-sink.js';
import { maybeSummarize, type BenchOptions } from './common.js';

export interface EmailProviderRun {
  readonly mode: 'provider' | 'nodemailer';
  readonly count: number;
  readonly connections: number;
  readonly ok: number;
  readonly firstError: string | null;
  readonly mailsPerS: number;
  /** The sender process's CPU (all threads) per mail, ms. */
  readonly cpuMsPerMail: number;
  /** The sink's CPU per mail (warm-up included), ms. */
  readonly sinkCpuMsPerMail: number | null;
  readonly accepted: number;
  readonly profile: ProfileSummary | null;
}

export interface EmailProviderResult {
  readonly runs: EmailProviderRun[];
}

export interface EmailProviderOptions {
  readonly emailCount: number;
  readonly emailConnections: number;
  readonly emailCompare: boolean;
}

export async function runEmailProvider(
  opts: BenchOptions & EmailProviderOptions,
): Promise<EmailProviderResult> {
  const sink = await startSmtpSink();
  const runs: EmailProviderRun[] = [];
  try {
    const modes = opts.emailCompare
      ? (['nodemailer', 'provider'] as const)
      : (['provider'] as const);
    for (const mode of modes) {
      await sink.reset();
      const warmup = Math.min(2_000, Math.ceil(opts.emailCount / 10));
      const profileDir = opts.profileRoot
        ? newProfileDir(opts.profileRoot, `email-${mode}`)
        : undefined;
      const sinkCpu0 = readCpuSeconds(sink.child.pid);
      const { stdout, profile } = await runToEnd(
        [
          join(ROOT, 'bench/scenarios/email-provider-child.ts'),
          '--port',
          String(sink.port),
          '--count',
          String(opts.emailCount),
          '--connections',
          String(opts.emailConnections),
          '--warmup',
          String(warmup),
          '--mode',
          mode,
        ],
        profileDir,
      );
      const line = /^result (.*)$/m.exec(stdout)?.[1];
      if (!line) throw new Error(`email ${mode}: no result from the sender:\n${stdout}`);
      const sinkCpu1 = readCpuSeconds(sink.child.pid);
      const r = JSON.parse(line) as {
        count: number;
        ok: number;
        firstError: string | null;
        ms: number;
        cpuMs: number;
        window: [number, number];
      };
      const stats = await sink.stats();
      const run: EmailProviderRun = {
        mode,
        count: r.count,
        connections: opts.emailConnections,
        ok: r.ok,
        firstError: r.firstError,
        mailsPerS: r.ok / (r.ms / 1000),
        cpuMsPerMail: r.cpuMs / r.count,
        sinkCpuMsPerMail:
          sinkCpu0 !== null && sinkCpu1 !== null
            ? ((sinkCpu1 - sinkCpu0) * 1000) / (r.count + warmup)
            : null,
        accepted: stats.accepted,
        profile: maybeSummarize(profile, r.window, opts.top),
      };
      opts.log(
        `  email ${mode}: ${r.ok}/${r.count} in ${(r.ms / 1000).toFixed(2)} s = ${Math.round(run.mailsPerS)} mails/s, ` +
          `${run.cpuMsPerMail.toFixed(3)} ms CPU/mail (sink ${run.sinkCpuMsPerMail?.toFixed(3) ?? '?'} ms)`,
      );
      runs.push(run);
    }
    return { runs };
  } finally {
    await sink.stop();
  }
}

/** Runs the sender child (under tsx) to its end; its stdout and, when profiled, its profile. */
function runToEnd(
  args: readonly string[],
  profileDir: string | undefined,
  timeoutMs = 600_000,
): Promise<{ stdout: string; profile: string | null }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(
      process.execPath,
      [
        ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
        '--import',
        'tsx',
        ...args,
      ],
      { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    trackChild(proc);
    let stdout = '';
    let stderr = '';
    proc.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    proc.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), timeoutMs);
    proc.once('close', (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) {
        reject(new Error(`sender exited with ${code ?? signal}:\n${stdout}\n${stderr}`));
        return;
      }
      const file = profileDir
        ? readdirSync(profileDir).find((f) =>
            new RegExp(`\\.${proc.pid}\\.0\\.\\d+\\.cpuprofile$`).test(f),
          )
        : undefined;
      resolve({ stdout, profile: file && profileDir ? join(profileDir, file) : null });
    });
  });
}
