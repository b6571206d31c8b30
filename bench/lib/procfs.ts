/** Memory and CPU of a child process from Linux /proc (the bench runs on Linux). */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';

let clockTicks: number | null = null;

function ticksPerSecond(): number {
  if (clockTicks === null) {
    try {
      clockTicks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      clockTicks = 100;
    }
  }
  return clockTicks;
}

export interface MemoryKb {
  /** Resident set now. */
  readonly rssKb: number;
  /** Resident high-water mark since start (or since resetPeakRss). */
  readonly hwmKb: number;
}

export function readMemory(pid: number): MemoryKb | null {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const field = (name: string) =>
      Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
    return { rssKb: field('VmRSS'), hwmKb: field('VmHWM') };
  } catch {
    return null;
  }
}

/** Resets VmHWM to the current RSS (`echo 5 > clear_refs`); false where the kernel refuses. */
export function resetPeakRss(pid: number): boolean {
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
    return true;
  } catch {
    return false;
  }
}

/** User + system CPU seconds the process has used so far (all its threads). */
export function readCpuSeconds(pid: number): number | null {
  try {
    return cpuOfStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return null;
  }
}

/**
 * Seconds the process's threads have spent runnable but waiting for a CPU (the scheduler's
 * run-queue wait, /proc/<pid>/task/<tid>/schedstat), summed over the threads alive now: on a
 * shared machine, how much of a slow result was queueing behind other people's processes.
 */
export function readRunQueueWaitSeconds(pid: number): number | null {
  try {
    let ns = 0;
    for (const tid of readdirSync(`/proc/${pid}/task`)) {
      try {
        const fields = readFileSync(`/proc/${pid}/task/${tid}/schedstat`, 'utf8').split(' ');
        ns += Number(fields[1]);
      } catch {
        // the thread ended meanwhile
      }
    }
    return ns / 1e9;
  } catch {
    return null;
  }
}

function cpuOfStat(stat: string): number {
  // Fields after the command name (which may contain spaces), which ends with ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  return (utime + stime) / ticksPerSecond();
}

/**
 * CPU seconds used so far by each process with one of these command names (`beam.smp`,
 * `postgres`): the services under a scale-out run, by pid. See cpuDelta.
 */
export function readCpuSecondsByCommand(
  names: readonly string[],
): Map<number, { comm: string; cpuS: number }> {
  const out = new Map<number, { comm: string; cpuS: number }>();
  let entries: string[];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e));
  } catch {
    return out;
  }
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (names.includes(comm)) out.set(Number(pid), { comm, cpuS: cpuOfStat(stat) });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/**
 * CPU seconds per command name between two readings: processes alive at the end count what
 * they used since the first reading (or since they started, if they are new); processes that
 * ended meanwhile are missed. The services serve everyone on the machine, so this includes
 * other users' work.
 */
export function cpuDelta(
  before: ReadonlyMap<number, { comm: string; cpuS: number }>,
  after: ReadonlyMap<number, { comm: string; cpuS: number }>,
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [pid, { comm, cpuS }] of after) {
    const prev = before.get(pid);
    out[comm] = (out[comm] ?? 0) + cpuS - (prev && prev.comm === comm ? prev.cpuS : 0);
  }
  return out;
}

export interface MemorySamples {
  readonly samples: number;
  readonly peakRssKb: number;
  /** VmHWM at the end: the true peak, if resetPeakRss worked at the start (see hwmReset). */
  readonly hwmKb: number;
  readonly hwmReset: boolean;
  readonly startRssKb: number;
  readonly endRssKb: number;
}

/** Samples VmRSS every `intervalMs` until stopped; resets VmHWM first so it covers the window. */
export function sampleMemory(pid: number, intervalMs = 100): { stop(): MemorySamples } {
  const hwmReset = resetPeakRss(pid);
  const first = readMemory(pid);
  let peak = first?.rssKb ?? 0;
  let last = first;
  let samples = first ? 1 : 0;
  const timer = setInterval(() => {
    const m = readMemory(pid);
    if (!m) return;
    samples++;
    last = m;
    if (m.rssKb > peak) peak = m.rssKb;
  }, intervalMs);
  return {
    stop() {
      clearInterval(timer);
      const end = readMemory(pid) ?? last;
      if (end && end.rssKb > peak) peak = end.rssKb;
      return {
        samples,
        peakRssKb: peak,
        hwmKb: end?.hwmKb ?? NaN,
        hwmReset,
        startRssKb: first?.rssKb ?? NaN,
        endRssKb: end?.rssKb ?? NaN,
      };
    },
  };
}

function cpuTimes(): { busy: number; total: number } {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/** Share of all CPUs busy (any process) over `ms`. */
export async function systemBusy(ms = 1000): Promise<number> {
  const a = cpuTimes();
  await new Promise((r) => setTimeout(r, ms));
  const b = cpuTimes();
  return b.total > a.total ? (b.busy - a.busy) / (b.total - a.total) : 0;
}

export interface Quiet {
  /** Share of all CPUs busy just before the scenario started. */
  readonly busy: number;
  readonly waitedS: number;
  readonly quiet: boolean;
}

/**
 * The machine is shared: waits (up to `maxWaitS`) until other processes leave the CPUs mostly
 * idle, so a scenario does not start in the middle of somebody's test run.
 */
export async function waitForQuiet(
  maxWaitS: number,
  threshold: number,
  log: (line: string) => void,
): Promise<Quiet> {
  const started = performance.now();
  let busy = await systemBusy();
  let logged = false;
  while (busy > threshold && (performance.now() - started) / 1000 < maxWaitS) {
    if (!logged) {
      log(
        `  machine busy (${Math.round(busy * 100)}% of all CPUs); waiting up to ${maxWaitS} s for it to calm down`,
      );
      logged = true;
    }
    busy = await systemBusy(2000);
  }
  return { busy, waitedS: (performance.now() - started) / 1000, quiet: busy <= threshold };
}
