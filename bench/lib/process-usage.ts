/**
 * CPU and memory of several processes over one measured window: Herald's api and worker
 * processes (CPU seconds, peak VmRSS sampled every 100 ms and VmHWM), and the CPU of the
 * services they use (RabbitMQ's `beam.smp`, every `postgres` process).
 */
import {
  cpuDelta,
  readCpuSeconds,
  readCpuSecondsByCommand,
  readRunQueueWaitSeconds,
  sampleMemory,
} from './procfs.js';

export interface ProcessUsage {
  readonly name: string;
  readonly pid: number;
  /** CPU seconds in the window (all threads). */
  readonly cpuS: number | null;
  /** cpuS ÷ window: cores used on average. */
  readonly cores: number | null;
  /**
   * Seconds its threads were runnable but waited for a CPU, ÷ window: above ~0.2 the process
   * was held back by others on the machine (or by its own threads competing).
   */
  readonly runQueueWait: number | null;
  readonly startRssKb: number;
  /** Highest of the 100 ms samples and VmHWM (when it could be reset at the start). */
  readonly peakRssKb: number;
  readonly endRssKb: number;
}

export interface UsageReport {
  readonly windowS: number;
  readonly processes: ProcessUsage[];
  /** CPU seconds of the services in the window, all their processes, other users' work included. */
  readonly services: Record<string, number>;
}

export const SERVICE_COMMANDS = ['beam.smp', 'postgres'] as const;

export function measureUsage(procs: readonly { name: string; pid: number }[]): {
  stop(): UsageReport;
} {
  const t0 = performance.now();
  const cpu0 = procs.map((p) => readCpuSeconds(p.pid));
  const wait0 = procs.map((p) => readRunQueueWaitSeconds(p.pid));
  const services0 = readCpuSecondsByCommand(SERVICE_COMMANDS);
  const memory = procs.map((p) => sampleMemory(p.pid, 100));
  return {
    stop() {
      const windowS = (performance.now() - t0) / 1000;
      const services1 = readCpuSecondsByCommand(SERVICE_COMMANDS);
      const processes = procs.map((p, i): ProcessUsage => {
        const mem = memory[i]!.stop();
        const c0 = cpu0[i];
        const c1 = readCpuSeconds(p.pid);
        const cpuS = c0 !== null && c0 !== undefined && c1 !== null ? c1 - c0 : null;
        const w0 = wait0[i];
        const w1 = readRunQueueWaitSeconds(p.pid);
        const waitS = w0 !== null && w0 !== undefined && w1 !== null ? w1 - w0 : null;
        return {
          name: p.name,
          pid: p.pid,
          cpuS,
          cores: cpuS !== null && windowS > 0 ? cpuS / windowS : null,
          runQueueWait: waitS !== null && windowS > 0 ? waitS / windowS : null,
          startRssKb: mem.startRssKb,
          peakRssKb: Math.max(mem.peakRssKb, mem.hwmReset ? mem.hwmKb : 0),
          endRssKb: mem.endRssKb,
        };
      });
      const delta = cpuDelta(services0, services1);
      const services = Object.fromEntries(SERVICE_COMMANDS.map((n) => [n, delta[n] ?? 0]));
      return { windowS, processes, services };
    },
  };
}
