import {
  CaptureTag,
  Context,
  Liquid,
  LiquidError,
  UndefinedVariableError,
  type FilterImplOptions,
  type Template,
} from 'liquidjs';

type FilterHandler = Extract<FilterImplOptions, (...args: never[]) => unknown>;

/** The texts of one template version. subject is for email, title for in_app and push. */
export interface TemplateParts {
  readonly subject?: string | null;
  readonly title?: string | null;
  readonly body: string;
}

export type TemplatePart = 'subject' | 'title' | 'body';

export interface RenderedParts {
  subject?: string;
  title?: string;
  body: string;
}

export interface TemplateProblem {
  readonly part: TemplatePart;
  readonly message: string;
  readonly line?: number;
  readonly col?: number;
}

export type TemplateValidation = { ok: true } | { ok: false; errors: TemplateProblem[] };

export interface RenderOptions {
  /** IANA zone the `date` filter shows times in, normally the recipient's (`Asia/Shanghai`). */
  readonly timezone?: string;
  /** Locale for month and weekday names in `date` (`%A`, `%B`), normally the template's. */
  readonly locale?: string;
}

export interface TemplateRendererOptions {
  /**
   * Work budget of one `render` call, all parts together: template nodes rendered, counting
   * every node once per loop iteration. The limit that normally stops a runaway template.
   */
  readonly renderSteps?: number;
  /**
   * Wall-clock backstop of one `render` call. Generous on purpose: a time limit also fires on
   * sound templates when the CPU is starved, and a render error fails a delivery for good.
   */
  readonly renderLimitMs?: number;
  /** Longest template text accepted, per part. */
  readonly parseLimitChars?: number;
  /**
   * LiquidJS allocation budget of one `render` call (string lengths and array sizes created by
   * filters, ranges, captures), all parts together.
   */
  readonly memoryLimit?: number;
  /** Longest rendered text accepted, per part. */
  readonly maxOutputChars?: number;
  /** Parsed templates kept, least recently used evicted first. */
  readonly cacheEntries?: number;
  /** Total length of template text kept in the cache. */
  readonly cacheChars?: number;
  readonly defaultTimezone?: string;
  readonly defaultLocale?: string;
}

export type TemplateRenderErrorKind =
  'parse' | 'undefined-variable' | 'limit-exceeded' | 'output-too-large' | 'error';

/**
 * A template could not be rendered for this message. It is a property of the template and the
 * message data, so retrying cannot help: the delivery fails permanently with `message`.
 */
export class TemplateRenderError extends Error {
  override readonly name = 'TemplateRenderError';
  constructor(
    message: string,
    readonly templateKey: string,
    readonly part: TemplatePart,
    readonly kind: TemplateRenderErrorKind,
    readonly line?: number,
    readonly col?: number,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const PARTS: readonly TemplatePart[] = ['subject', 'title', 'body'];

/**
 * LiquidJS's render limiter, counting work instead of time. LiquidJS calls `check(now)` before
 * each template node it renders (each node again in every loop iteration) and never `use()`;
 * this counts those calls, so a template gets the same answer on an idle machine and on one
 * whose CPU is starved (where a time-only limit failed sound templates for good), and keeps a
 * wall-clock deadline as a backstop. One instance is shared by all parts of a render call.
 */
class RenderBudget {
  private steps = 0;
  constructor(
    private readonly maxSteps: number,
    private readonly deadline: number,
  ) {}

  use(): void {}

  check(now: number): void {
    if (++this.steps > this.maxSteps) {
      throw new Error(`template render limit exceeded (over ${this.maxSteps} steps)`);
    }
    if (now > this.deadline) throw new Error('template render time limit exceeded');
  }
}

/**
 * `capture` builds its string without charging LiquidJS's memory limit, so doubling a
 * captured variable in a loop reaches V8's maximum string length in microseconds, and a later
 * `replace`/`split` on it aborts the whole process. This one charges what it captured.
 */
class ChargedCaptureTag extends CaptureTag {
  override *render(ctx: Context): Generator<unknown, void, string> {
    yield* super.render(ctx);
    const value: unknown = ctx.bottom()[this.variable];
    if (typeof value === 'string') ctx.memoryLimit.use(value.length);
  }
}

/**
 * Renders Liquid templates with producer data, safely (RELIABILITY C6–C8):
 *
 * - Producer data only ever enters as context values, never as template text, so `{{ }}` in
 *   data is printed as it is.
 * - Only own properties of the data are visible (`ownPropertyOnly`): no `constructor`,
 *   `__proto__`.
 * - Unknown variables and filters are errors: a template that refers to a field the message
 *   lacks fails loudly instead of sending a sentence with a hole. `{% if x %}` and
 *   `x | default: …` stay usable for optional fields (`lenientIf`).
 * - No file system: `include`, `render` and `layout` do not exist.
 * - Work and allocation budgets per call, and a cap on the output length. These limits are
 *   cooperative (checked between tags and inside filters), not isolation: the caller should
 *   also run rendering where it can be killed (a worker thread with a timeout).
 *
 * Parsing happens once per distinct template text; parsed templates are kept in an LRU.
 * Rendering itself is synchronous (no tag or filter here does I/O), which keeps the
 * wall-clock backstop honest: concurrent renders cannot interleave and eat each other's budget.
 */
export class TemplateRenderer {
  private readonly liquid: Liquid;
  private readonly cache = new Map<string, Template[]>();
  private cachedChars = 0;
  private parses = 0;
  /** Liquid options per timezone × locale (the `date` filter reads them from the context). */
  private readonly optionsByZone = new Map<string, Liquid['options']>();
  private readonly maxOutputChars: number;
  private readonly cacheEntries: number;
  private readonly cacheChars: number;
  private readonly defaultTimezone: string;
  private readonly defaultLocale: string;
  private readonly renderSteps: number;
  private readonly renderLimitMs: number;

  constructor(opts: TemplateRendererOptions = {}) {
    this.renderSteps = opts.renderSteps ?? 100_000;
    this.renderLimitMs = opts.renderLimitMs ?? 5_000;
    this.maxOutputChars = opts.maxOutputChars ?? 1_000_000;
    this.cacheEntries = opts.cacheEntries ?? 1_000;
    this.cacheChars = opts.cacheChars ?? 20_000_000;
    this.defaultTimezone = opts.defaultTimezone ?? 'UTC';
    this.defaultLocale = opts.defaultLocale ?? 'en';
    this.liquid = new Liquid({
      strictVariables: true,
      strictFilters: true,
      ownPropertyOnly: true,
      lenientIf: true,
      parseLimit: opts.parseLimitChars ?? 100_000,
      memoryLimit: opts.memoryLimit ?? 10_000_000,
      // An empty in-memory file system: nothing can ever be read from disk.
      templates: {},
      timezoneOffset: this.defaultTimezone,
      locale: this.defaultLocale,
      cache: false,
    });
    for (const tag of ['include', 'render', 'layout']) delete this.liquid.tags[tag];
    this.liquid.registerTag('capture', ChargedCaptureTag);
    const date = this.liquid.filters['date'];
    if (typeof date === 'function') this.liquid.registerFilter('date', zonedDate(date));
  }

  /** How many texts were parsed (not served from the cache) so far; for tests and metrics. */
  get parseCount(): number {
    return this.parses;
  }

  /** Whether each given part parses; the parsed parts are cached for the first render. */
  validate(parts: TemplateParts): TemplateValidation {
    const errors: TemplateProblem[] = [];
    for (const part of PARTS) {
      const text = parts[part];
      if (text === undefined || text === null) continue;
      try {
        this.parsed(text);
      } catch (err) {
        const { message, line, col } = describe(err);
        errors.push({ part, message, ...(line !== undefined ? { line, col } : {}) });
      }
    }
    return errors.length === 0 ? { ok: true } : { ok: false, errors };
  }

  /**
   * The message data a template reads: each `data.*` variable it refers to outside its own
   * loop variables, as path segments (`data.dishes` → ['dishes'], `data.a.b` → ['a', 'b']),
   * in order of appearance, without repeats. Parts that do not parse are skipped (validate
   * reports them).
   */
  dataPaths(parts: TemplateParts): string[][] {
    const seen = new Set<string>();
    const out: string[][] = [];
    for (const part of PARTS) {
      const text = parts[part];
      if (text === undefined || text === null) continue;
      let segments: unknown[][];
      try {
        segments = this.liquid.globalVariableSegmentsSync(this.parsed(text));
      } catch {
        continue;
      }
      for (const s of segments) {
        if (s[0] !== 'data' || s.length < 2) continue;
        const path = s.slice(1).map(String);
        const key = path.join('\u0000');
        if (seen.has(key)) continue;
        seen.add(key);
        out.push(path);
      }
    }
    return out;
  }

  /**
   * Renders the given parts with `context` (e.g. `{ data, recipient, message }`) and returns
   * the parts that were given. `templateKey` names the template in error messages.
   * Throws TemplateRenderError.
   */
  async render(
    templateKey: string,
    parts: TemplateParts,
    context: Readonly<Record<string, unknown>>,
    options: RenderOptions = {},
  ): Promise<RenderedParts> {
    const liquidOptions = this.optionsFor(options.timezone, options.locale);
    // `increment`/`decrement` write into the top level of the context: keep the caller's intact.
    const env = { ...context };
    const out: RenderedParts = { body: '' };
    // LiquidJS calls only check() and use() of a render limiter; its class is not exported.
    const renderLimit = new RenderBudget(
      this.renderSteps,
      performance.now() + this.renderLimitMs,
    ) as unknown as Context['renderLimit'];
    let memoryLimit: Context['memoryLimit'] | undefined;
    for (const part of PARTS) {
      const text = parts[part];
      if (text === undefined || text === null) continue;
      let rendered: string;
      try {
        const template = this.parsed(text);
        // One work and memory budget for the whole call: later parts share the first's limiters.
        const ctx = new Context(
          env,
          liquidOptions,
          { sync: true },
          { liquid: this.liquid, renderLimit, ...(memoryLimit ? { memoryLimit } : {}) },
        );
        memoryLimit ??= ctx.memoryLimit;
        rendered = String(this.liquid.renderSync(template, ctx));
      } catch (err) {
        throw renderError(templateKey, part, err);
      }
      // Reading .length does not flatten a rope string; anything longer never leaves here.
      if (rendered.length > this.maxOutputChars) {
        throw new TemplateRenderError(
          `Template ${templateKey}: the rendered ${part} is ${rendered.length} characters, over the limit of ${this.maxOutputChars}`,
          templateKey,
          part,
          'output-too-large',
        );
      }
      out[part] = rendered;
    }
    return out;
  }

  private parsed(text: string): Template[] {
    const hit = this.cache.get(text);
    if (hit) {
      // Map keeps insertion order: re-inserting marks the entry most recently used.
      this.cache.delete(text);
      this.cache.set(text, hit);
      return hit;
    }
    const template = this.liquid.parse(text);
    this.parses++;
    this.cache.set(text, template);
    this.cachedChars += text.length;
    for (const key of this.cache.keys()) {
      if (this.cache.size <= this.cacheEntries && this.cachedChars <= this.cacheChars) break;
      if (key === text) continue;
      this.cache.delete(key);
      this.cachedChars -= key.length;
    }
    return template;
  }

  private optionsFor(
    timezone = this.defaultTimezone,
    locale = this.defaultLocale,
  ): Liquid['options'] {
    const key = `${timezone}\u0000${locale}`;
    let o = this.optionsByZone.get(key);
    if (!o) {
      // Bounded: there are a few hundred zones and a few locales, but never trust the count.
      if (this.optionsByZone.size >= 1_000) this.optionsByZone.clear();
      o = { ...this.liquid.options, timezoneOffset: timezone, locale };
      this.optionsByZone.set(key, o);
    }
    return o;
  }
}

/**
 * LiquidJS's `date` with an IANA zone name builds two Intl formatters per call (~0.2 ms). Same
 * result, faster: work out the zone's offset at that instant with one cached formatter and pass
 * it as a number. `%Z` (the zone's name) still goes the slow way, since a number has no name.
 */
function zonedDate(original: FilterHandler): FilterHandler {
  return function (
    this: ThisParameterType<FilterHandler>,
    value: unknown,
    format?: unknown,
    timezoneOffset?: unknown,
  ) {
    const zone = this.context.opts.timezoneOffset;
    if (
      timezoneOffset === undefined &&
      typeof zone === 'string' &&
      !(typeof format === 'string' && format.includes('%Z'))
    ) {
      const at = instantOf(value);
      const offset = at === undefined ? undefined : zoneOffsetMinutes(zone, at);
      if (offset !== undefined) return original.call(this, value, format, offset);
    }
    return original.call(this, value, format, timezoneOffset);
  };
}

/** The instant LiquidJS's `date` reads from a value (seconds for numbers), if plain. */
function instantOf(v: unknown): number | undefined {
  let ms: number | undefined;
  if (v === 'now' || v === 'today') ms = Date.now();
  else if (typeof v === 'number') ms = v * 1000;
  else if (typeof v === 'string') ms = /^\d+$/.test(v) ? Number(v) * 1000 : new Date(v).getTime();
  else if (v instanceof Date) ms = v.getTime();
  return ms !== undefined && Number.isFinite(ms) ? ms : undefined;
}

const zoneFormats = new Map<string, Intl.DateTimeFormat>();

/** Minutes to add to local time to get UTC (as Date#getTimezoneOffset), in `zone` at `ms`. */
function zoneOffsetMinutes(zone: string, ms: number): number | undefined {
  let f = zoneFormats.get(zone);
  if (!f) {
    try {
      f = new Intl.DateTimeFormat('en-US', {
        timeZone: zone,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
        era: 'short',
      });
    } catch {
      return undefined; // not a zone: LiquidJS reports it in its own words
    }
    if (zoneFormats.size >= 1_000) zoneFormats.clear();
    zoneFormats.set(zone, f);
  }
  const p: Record<string, string> = {};
  for (const { type, value } of f.formatToParts(ms)) p[type] = value;
  const year = p['era'] === 'BC' ? 1 - Number(p['year']) : Number(p['year']);
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999.
  const d = new Date(0);
  d.setUTCFullYear(year, Number(p['month']) - 1, Number(p['day']));
  d.setUTCHours(Number(p['hour']), Number(p['minute']), Number(p['second']));
  const local = d.getTime();
  const whole = Math.floor(ms / 1000) * 1000;
  return Number.isFinite(local) ? Math.round((whole - local) / 60_000) : undefined;
}

/** LiquidJS messages end in ", line:L, col:C"; split that off into numbers. */
function describe(err: unknown): { message: string; line?: number; col?: number } {
  const raw = err instanceof Error ? err.message : String(err);
  const m = /^([\s\S]*?), line:(\d+), col:(\d+)$/.exec(raw);
  if (!m) return { message: raw };
  return { message: m[1]!, line: Number(m[2]), col: Number(m[3]) };
}

function renderError(templateKey: string, part: TemplatePart, err: unknown): TemplateRenderError {
  const { message, line, col } = describe(err);
  const at = line !== undefined ? ` at line ${line}, col ${col}` : '';
  let kind: TemplateRenderErrorKind = 'error';
  let text = `Template ${templateKey}: ${part}${at}: ${message}`;
  if (err instanceof UndefinedVariableError) {
    kind = 'undefined-variable';
    text +=
      ' (the message data has no such field; send it, or guard it with {% if %} or | default)';
  } else if (/limit exceeded\b/.test(message) || /Invalid string length/.test(message)) {
    kind = 'limit-exceeded';
    text += ' (the template does too much work for one message)';
  } else if (err instanceof LiquidError && err.name !== 'RenderError') {
    kind = 'parse';
  } else if (!(err instanceof LiquidError)) {
    // Parse limit and similar assertions from the parser.
    kind = /parse length/.test(message) ? 'limit-exceeded' : 'error';
  }
  return new TemplateRenderError(text, templateKey, part, kind, line, col, { cause: err });
}
