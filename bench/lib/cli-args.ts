/** Parsing shared by the bench's two modes (run.ts, scale-run.ts). */

/** A numeric option's value, at least `min`; an error names the option otherwise. */
export function numberArg(name: string, raw: string | undefined, min: number): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min)
    throw new Error(`--${name} must be a number ≥ ${min}, got ${raw}`);
  return n;
}

/** `--only a,b`: the named scenarios (all when not given); an unknown name is an error. */
export function onlyArg<S extends string>(
  raw: string | undefined,
  scenarios: readonly S[],
  mode: string,
): S[] {
  if (!raw) return [...scenarios];
  const only = raw.split(',').map((s) => s.trim()) as S[];
  for (const s of only) {
    if (!scenarios.includes(s))
      throw new Error(`--only (${mode} mode): unknown scenario "${s}" (${scenarios.join(', ')})`);
  }
  return only;
}
