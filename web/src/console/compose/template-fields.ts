import type { Template } from '../../api/console-types';

export interface DataField {
  /** The data key: `course` for `{{ data.course }}`. */
  readonly name: string;
  /** Used as a list (`| join`, `{% for %}`): entered one item per line, sent as an array. */
  readonly list: boolean;
  /** Only used under `{% if %}`/`{% unless %}` or with `| default`: may stay empty. */
  readonly optional: boolean;
}

const NAME = '[A-Za-z_][A-Za-z0-9_]*';

/**
 * The fields a category's templates read from the message data, found in their text: every
 * `data.<name>` of every channel and language, so the form asks for exactly what the templates
 * need (Herald's templates are strict: a missing variable fails the delivery).
 */
export function templateFields(templates: readonly Template[]): DataField[] {
  const seen = new Map<string, { list: boolean; required: boolean }>();
  const note = (name: string, guarded: boolean, list: boolean) => {
    const entry = seen.get(name) ?? { list: false, required: false };
    if (list) entry.list = true;
    if (!guarded) entry.required = true;
    seen.set(name, entry);
  };
  for (const t of templates) {
    for (const text of [t.subject, t.title, t.body]) {
      if (!text) continue;
      // Names tested by the {% if %} blocks we are inside: using them there is optional.
      const guards: string[][] = [];
      for (const tag of text.matchAll(/\{\{-?([\s\S]*?)-?\}\}|\{%-?([\s\S]*?)-?%\}/g)) {
        const output = tag[1];
        const code = (output ?? tag[2] ?? '').trim();
        const names = [...code.matchAll(new RegExp(`\\bdata\\.(${NAME})`, 'g'))].map((m) => m[1]!);
        if (output === undefined) {
          const keyword = /^(\w+)/.exec(code)?.[1] ?? '';
          if (keyword === 'if' || keyword === 'unless') {
            guards.push(names);
            for (const name of names) note(name, true, false);
            continue;
          }
          if (keyword === 'endif' || keyword === 'endunless') {
            guards.pop();
            continue;
          }
          if (keyword === 'elsif') {
            for (const name of names) note(name, true, false);
            guards[guards.length - 1]?.push(...names);
            continue;
          }
          const loop = new RegExp(`^for\\s+${NAME}\\s+in\\s+data\\.(${NAME})`).exec(code);
          if (loop) {
            note(loop[1]!, guards.flat().includes(loop[1]!), true);
            continue;
          }
        }
        const guarded = new Set(guards.flat());
        for (const m of code.matchAll(new RegExp(`\\bdata\\.(${NAME})`, 'g'))) {
          const name = m[1]!;
          const after = code.slice((m.index ?? 0) + m[0].length);
          const list = /^\s*\|\s*(join|size|first|last|sort|map)\b/.test(after);
          const defaulted = /^\s*(\|[^|]*)*\|\s*default\b/.test(after);
          note(name, guarded.has(name) || defaulted, list);
        }
      }
    }
  }
  // `url` has a field of its own (the inbox link).
  return [...seen.entries()]
    .filter(([name]) => name !== 'url')
    .map(([name, e]) => ({ name, list: e.list, optional: !e.required }));
}

/** The form's text → the message data: list fields become arrays, empty ones are left out. */
export function dataFromForm(
  fields: readonly DataField[],
  values: Readonly<Record<string, string>>,
  url: string,
): Record<string, unknown> {
  const data: Record<string, unknown> = {};
  for (const field of fields) {
    const raw = (values[field.name] ?? '').trim();
    if (!raw) continue;
    data[field.name] = field.list
      ? raw
          .split('\n')
          .map((line) => line.trim())
          .filter(Boolean)
      : raw;
  }
  if (url.trim()) data.url = url.trim();
  return data;
}
