/** The bench's printed table: one row per metric, with its target and verdict. */

export type Row = [section: string, metric: string, value: string, target: string, verdict: string];

export const int = (n: number) => Math.round(n).toLocaleString('en');
export const mib = (kb: number) => kb / 1024;

export function verdict(ok: boolean | null): string {
  return ok === null ? '' : ok ? 'MET' : 'MISSED';
}

export function renderTable(rows: Row[]): string {
  const header: Row = ['scenario', 'metric', 'measured', 'target', ''];
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => r[i]!.length)));
  const line = (r: Row) =>
    '| ' +
    r.map((c, i) => (i === 2 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join(' | ') +
    ' |';
  const sep = '|' + widths.map((w) => '-'.repeat(w + 2)).join('|') + '|';
  const out = [line(header), sep];
  let last = '';
  for (const r of rows) {
    out.push(line(r[0] === last ? ['', r[1], r[2], r[3], r[4]] : r));
    last = r[0];
  }
  return out.join('\n');
}
