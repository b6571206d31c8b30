/**
 * Summarises a V8 .cpuprofile (from `node --cpu-prof`): self time per function (file:function),
 * per package, optionally restricted to a time window (the measured phase of a scenario), so
 * startup, seeding and user import do not blur where the steady-state time goes. Functions in
 * the bench's compiled dist/ are mapped back to src/*.ts through their source maps.
 *
 * CLI: node --import tsx bench/lib/cpu-profile.ts <file.cpuprofile> [top=15]
 */
import { existsSync, readFileSync } from 'node:fs';
import { SourceMap } from 'node:module';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface CallFrame {
  readonly functionName: string;
  readonly url: string;
  readonly lineNumber: number;
  readonly columnNumber: number;
}

interface ProfileNode {
  readonly id: number;
  readonly callFrame: CallFrame;
  readonly children?: number[];
}

interface CpuProfile {
  readonly nodes: ProfileNode[];
  /** Microseconds, V8's monotonic clock (CLOCK_MONOTONIC on Linux, like process.hrtime). */
  readonly startTime: number;
  readonly endTime: number;
  readonly samples: number[];
  readonly timeDeltas: number[];
}

export interface FunctionTime {
  /** `file:line function` — file relative to the project, src/ for Herald's own code. */
  readonly name: string;
  readonly selfMs: number;
  /** Share of the busy (non-idle) time in the window. */
  readonly pctBusy: number;
}

export interface ProfileSummary {
  readonly file: string;
  /** The window actually analysed, ms. */
  readonly windowMs: number;
  readonly windowed: boolean;
  readonly samples: number;
  readonly busyMs: number;
  readonly idleMs: number;
  readonly top: FunctionTime[];
  readonly byPackage: FunctionTime[];
  readonly herald: FunctionTime[];
  /**
   * Herald functions by time ON the stack (self + callees) — up to the first await of each
   * call: after an await the stack starts anew, so this is a lower bound of what a function
   * causes, but it does show where query building and rendering are driven from.
   */
  readonly heraldInclusive: FunctionTime[];
}

const sourceMaps = new Map<string, SourceMap | null>();

function sourceMapFor(path: string): SourceMap | null {
  if (!sourceMaps.has(path)) {
    const mapFile = `${path}.map`;
    let map: SourceMap | null = null;
    if (existsSync(mapFile)) {
      try {
        map = new SourceMap(JSON.parse(readFileSync(mapFile, 'utf8')));
      } catch {
        map = null;
      }
    }
    sourceMaps.set(path, map);
  }
  return sourceMaps.get(path)!;
}

interface Located {
  readonly file: string;
  readonly line: number;
  readonly pkg: string;
}

function locate(frame: CallFrame): Located {
  const { url, functionName } = frame;
  if (!url) {
    const special = /^\(.*\)$/.test(functionName);
    return {
      file: special ? functionName : '(native)',
      line: 0,
      pkg: special ? functionName : '(native C++ / builtins)',
    };
  }
  if (url.startsWith('node:')) return { file: url, line: frame.lineNumber + 1, pkg: 'node core' };
  let path = url;
  if (url.startsWith('file://')) {
    try {
      path = fileURLToPath(url);
    } catch {
      path = url;
    }
  }
  let line = frame.lineNumber + 1;
  const builtDist = /node_modules\/\.cache\/herald-bench\/dist\/(.*)\.js$/.exec(path);
  if (builtDist) {
    // Our private build of src/: map the position back to the TypeScript source.
    const map = sourceMapFor(path);
    const entry = map?.findEntry(frame.lineNumber, frame.columnNumber) as
      { originalLine?: number } | undefined;
    if (entry && typeof entry.originalLine === 'number') line = entry.originalLine + 1;
    return { file: `src/${builtDist[1]}.ts`, line, pkg: 'herald (src/)' };
  }
  const rel = relative(ROOT, path);
  const nm = /(?:^|\/)node_modules\/((?:@[^/]+\/)?[^/]+)\/(.*)$/.exec(rel);
  if (nm) return { file: `${nm[1]}/${nm[2]}`, line, pkg: nm[1]! };
  if (rel.startsWith('src/')) return { file: rel, line, pkg: 'herald (src/)' };
  return { file: rel.startsWith('..') ? path : rel, line, pkg: 'other' };
}

/**
 * @param window Optional [from, to] in microseconds of the monotonic clock (process.hrtime).
 */
export function summarizeProfile(
  file: string,
  opts: { window?: readonly [number, number] | undefined; top?: number } = {},
): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const topN = opts.top ?? 15;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));

  // A window from the bench's clock must overlap the profile, else the clocks differ: use all.
  let [from, to] = [profile.startTime, profile.endTime];
  let windowed = false;
  if (opts.window) {
    const [wf, wt] = opts.window;
    if (wt > profile.startTime && wf < profile.endTime && wt > wf) {
      from = Math.max(wf, profile.startTime);
      to = Math.min(wt, profile.endTime);
      windowed = true;
    }
  }

  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

  const selfUs = new Map<number, number>();
  let t = profile.startTime;
  let samples = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    if (t < from || t > to) continue;
    // A sample stands for the time until the next one.
    const dur = profile.timeDeltas[i + 1] ?? 0;
    const id = profile.samples[i]!;
    selfUs.set(id, (selfUs.get(id) ?? 0) + dur);
    samples++;
  }

  const located = new Map<number, Located>();
  const locOf = (id: number): Located => {
    let l = located.get(id);
    if (!l) {
      l = locate(byId.get(id)!.callFrame);
      located.set(id, l);
    }
    return l;
  };
  const inclusive = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const seen = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const loc = locOf(n);
      if (loc.pkg !== 'herald (src/)') continue;
      const key = `${loc.file} ${byId.get(n)!.callFrame.functionName || '(anonymous)'}`;
      if (seen.has(key)) continue;
      seen.add(key);
      inclusive.set(key, (inclusive.get(key) ?? 0) + us);
    }
  }

  const byName = new Map<string, number>();
  const byPkg = new Map<string, number>();
  const heraldByName = new Map<string, number>();
  let idleUs = 0;
  let totalUs = 0;
  for (const [id, us] of selfUs) {
    const frame = byId.get(id)!.callFrame;
    totalUs += us;
    if (frame.functionName === '(idle)') {
      idleUs += us;
      continue;
    }
    const loc = locOf(id);
    const fn = frame.functionName || '(anonymous)';
    const name =
      loc.line > 0
        ? `${loc.file}:${loc.line} ${fn}`
        : `${loc.file === fn ? '' : `${loc.file} `}${fn}`;
    byName.set(name, (byName.get(name) ?? 0) + us);
    byPkg.set(loc.pkg, (byPkg.get(loc.pkg) ?? 0) + us);
    if (loc.pkg === 'herald (src/)') {
      // Per function, all call sites of the same function together.
      const key = `${loc.file} ${fn}`;
      heraldByName.set(key, (heraldByName.get(key) ?? 0) + us);
    }
  }
  const busyUs = totalUs - idleUs;
  const rank = (m: Map<string, number>, n: number): FunctionTime[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([name, us]) => ({
        name,
        selfMs: Math.round(us / 100) / 10,
        pctBusy: busyUs > 0 ? Math.round((us / busyUs) * 1000) / 10 : 0,
      }));
  return {
    file,
    windowMs: Math.round((to - from) / 1000),
    windowed,
    samples,
    busyMs: Math.round(busyUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    top: rank(byName, topN),
    byPackage: rank(byPkg, 12),
    herald: rank(heraldByName, 10),
    heraldInclusive: rank(inclusive, 10),
  };
}

export function formatProfileSummary(title: string, s: ProfileSummary): string {
  const lines = [
    `${title}: ${s.windowed ? 'measured window' : 'whole process'} ${(s.windowMs / 1000).toFixed(1)} s, ` +
      `main thread busy ${(s.busyMs / 1000).toFixed(1)} s (${s.windowMs > 0 ? Math.round((s.busyMs / s.windowMs) * 100) : 0}%), idle ${(s.idleMs / 1000).toFixed(1)} s — ${s.file}`,
    `  top ${s.top.length} self time (% of busy):`,
    ...s.top.map(
      (f, i) =>
        `  ${String(i + 1).padStart(2)}. ${f.pctBusy.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}`,
    ),
    `  by package:`,
    ...s.byPackage.map(
      (f) =>
        `      ${f.pctBusy.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}`,
    ),
    `  Herald's own functions (src/, all call sites together):`,
    ...s.herald.map(
      (f) =>
        `      ${f.pctBusy.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}`,
    ),
    `  Herald's functions by time on the stack (self + callees, up to each call's first await):`,
    ...s.heraldInclusive.map(
      (f) =>
        `      ${f.pctBusy.toFixed(1).padStart(5)}%  ${f.selfMs.toFixed(0).padStart(6)} ms  ${f.name}`,
    ),
  ];
  return lines.join('\n');
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (!file) {
    console.error('usage: node --import tsx bench/lib/cpu-profile.ts <file.cpuprofile> [top]');
    process.exit(2);
  }
  console.log(
    formatProfileSummary(file, summarizeProfile(file, { top: Number(process.argv[3] ?? 15) })),
  );
}
