/** Git facts of a run, and the build of src/ the bench runs (see child.ts). */
import { execFileSync } from 'node:child_process';
import { buildDist, ROOT, startHerald, type BuildInfo } from './child.js';

export function git(args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/**
 * Builds the dist runtime and proves it starts. Others edit src/ while the bench runs, so a
 * snapshot caught mid-edit may not load: then wait and snapshot again (worktree only).
 */
export async function buildAndCheck(src: string, log: (line: string) => void): Promise<BuildInfo> {
  for (let attempt = 1; ; attempt++) {
    log(
      `building ${src === 'worktree' ? 'a snapshot of src/' : `src/ at ${src}`} → node_modules/.cache/herald-bench/dist (tsc)`,
    );
    let build: BuildInfo | null = null;
    try {
      build = buildDist(src);
      log(
        `  built ${build.commit?.slice(0, 8) ?? '?'}${src === 'worktree' ? ' + uncommitted edits' : ''} in ${(build.ms / 1000).toFixed(1)} s (${build.files} files, sha256 ${build.snapshotSha256.slice(0, 12)})` +
          `${build.tscExit !== 0 ? ` — tsc reported type errors (exit ${build.tscExit}); the emitted JS is used` : ''}`,
      );
      const herald = await startHerald({ runtime: 'dist' });
      await herald.close();
      return build;
    } catch (err) {
      const why = (err as Error).message.split('\n').slice(0, 8).join('\n    ');
      if (src !== 'worktree' || attempt >= 4) {
        throw new Error(
          `the build of ${src} does not start: ${why}\n  (try --src HEAD to bench the last commit)`,
        );
      }
      log(
        `  the snapshot does not start (src/ mid-edit?): ${why}\n  retrying in 20 s (${attempt}/3)`,
      );
      await new Promise((r) => setTimeout(r, 20_000));
    }
  }
}
