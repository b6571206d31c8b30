/** Small JSON-over-HTTP helpers for setup and polling (not for load: autocannon does that). */
import autocannon, { type AutocannonOptions, type AutocannonResult } from 'autocannon';

export interface JsonResponse<T = unknown> {
  readonly status: number;
  readonly body: T;
}

export async function requestJson<T = unknown>(
  method: string,
  url: string,
  opts: { token?: string; body?: unknown; timeoutMs?: number } = {},
): Promise<JsonResponse<T>> {
  const res = await fetch(url, {
    method,
    headers: {
      ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}),
      ...(opts.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    // not JSON: keep the text
  }
  return { status: res.status, body: body as T };
}

export async function expectStatus<T>(
  what: string,
  expected: number,
  res: Promise<JsonResponse<T>>,
): Promise<T> {
  const r = await res;
  if (r.status !== expected) {
    throw new Error(
      `${what}: expected HTTP ${expected}, got ${r.status}: ${JSON.stringify(r.body).slice(0, 500)}`,
    );
  }
  return r.body;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Runs autocannon; stops it (and fails) if it overruns its duration by `graceMs`. */
export function runAutocannon(
  options: AutocannonOptions,
  graceMs = 30_000,
): Promise<AutocannonResult> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const instance = autocannon(options, (err, result) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (err) reject(err);
      else resolve(result);
    });
    const limitMs = (options.duration ?? 10) * 1000 + graceMs;
    const timer = setTimeout(() => {
      if (settled) return;
      instance.stop();
      setTimeout(() => {
        if (settled) return;
        settled = true;
        reject(new Error(`autocannon did not finish within ${limitMs} ms`));
      }, 5_000).unref();
    }, limitMs);
  });
}

/** The numbers of an autocannon run the bench keeps (the full result is large). */
export function summarizeLoad(r: AutocannonResult) {
  return {
    durationS: r.duration,
    ok2xx: r['2xx'],
    non2xx: r.non2xx,
    errors: r.errors,
    timeouts: r.timeouts,
    statusCodes: Object.fromEntries(
      Object.entries(r.statusCodeStats).map(([k, v]) => [k, v.count]),
    ),
    perSecond: r['2xx'] / r.duration,
    latencyMs: {
      average: r.latency.average,
      p50: r.latency.p50,
      p90: r.latency.p90,
      p99: r.latency.p99,
      max: r.latency.max,
    },
  };
}

export type LoadSummary = ReturnType<typeof summarizeLoad>;
