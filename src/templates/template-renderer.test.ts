import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { TemplateRenderError, TemplateRenderer } from './template-renderer.js';

async function renderBody(
  r: TemplateRenderer,
  body: string,
  context: Record<string, unknown> = {},
  options: { timezone?: string; locale?: string } = {},
): Promise<string> {
  return (await r.render('test/email/en', { body }, context, options)).body;
}

async function renderError(
  r: TemplateRenderer,
  body: string,
  context: Record<string, unknown> = {},
) {
  try {
    await renderBody(r, body, context);
  } catch (err) {
    assert.ok(
      err instanceof TemplateRenderError,
      `expected a TemplateRenderError, got ${String(err)}`,
    );
    return err;
  }
  assert.fail(`rendering ${JSON.stringify(body)} should have failed`);
}

describe('TemplateRenderer', () => {
  const r = new TemplateRenderer();

  it('renders every given part and only those', async () => {
    const out = await r.render(
      'exam/email/en',
      {
        subject: 'Exam {{ data.course }}',
        title: null,
        body: 'Dear {{ recipient.name }}, room {{ data.room }}.',
      },
      { data: { course: 'Math', room: 'A101' }, recipient: { name: '张三' } },
    );
    assert.deepEqual(out, { subject: 'Exam Math', body: 'Dear 张三, room A101.' });
  });

  it("leaves the caller's context unchanged", async () => {
    const context = { data: { n: 1 } };
    assert.equal(
      await renderBody(r, '{% increment data %}{% increment x %}{{ data }}', context),
      '001',
    );
    assert.deepEqual(context, { data: { n: 1 } });
  });

  describe('validate', () => {
    it('accepts templates that parse', () => {
      assert.deepEqual(
        r.validate({ subject: 'Hi {{ data.x }}', body: '{% if data.y %}y{% endif %}' }),
        { ok: true },
      );
    });

    it('reports each broken part with line and column', () => {
      const v = r.validate({
        subject: 'Hi {{ data.x',
        title: 'ok',
        body: 'line 1\n  {% if data.y %}never closed',
      });
      assert.equal(v.ok, false);
      if (v.ok) return;
      assert.deepEqual(
        v.errors.map((e) => [e.part, e.line, e.col]),
        [
          ['subject', 1, 4],
          ['body', 2, 3],
        ],
      );
      assert.match(v.errors[1]!.message, /not closed/);
      assert.doesNotMatch(v.errors[1]!.message, /line:/, 'the position is split off the message');
    });

    it('rejects unknown filters (strictFilters)', () => {
      const v = r.validate({ body: '{{ data.x | no_such_filter }}' });
      assert.equal(v.ok, false);
      if (!v.ok) assert.match(v.errors[0]!.message, /undefined filter: no_such_filter/);
    });

    it('has no include, render or layout: nothing is read from disk', () => {
      for (const body of [
        "{% include 'package.json' %}",
        "{% render '/etc/passwd' %}",
        "{% layout 'x' %}{% block a %}{% endblock %}",
      ]) {
        const v = r.validate({ body });
        assert.equal(v.ok, false, body);
        if (!v.ok) assert.match(v.errors[0]!.message, /tag "(include|render|layout)" not found/);
      }
    });

    it('refuses texts over the parse limit', () => {
      const small = new TemplateRenderer({ parseLimitChars: 100 });
      const v = small.validate({ body: 'x'.repeat(101) });
      assert.equal(v.ok, false);
      if (!v.ok) assert.match(v.errors[0]!.message, /parse length limit exceeded/);
    });
  });

  describe('strict variables', () => {
    it('fails on a variable the data lacks, naming it, the part and the position', async () => {
      const err = await renderError(r, 'Dear {{ recipient.name }},\nroom {{ data.room }}', {
        recipient: { name: 'A' },
        data: {},
      });
      assert.equal(err.part, 'body');
      assert.equal(err.kind, 'undefined-variable');
      assert.equal(err.templateKey, 'test/email/en');
      assert.deepEqual([err.line, err.col], [2, 9]);
      assert.match(err.message, /test\/email\/en/);
      assert.match(err.message, /undefined variable: data\.room/);
    });

    it('lets optional fields be guarded with if and default', async () => {
      const out = await renderBody(
        r,
        '{% if data.note %}Note: {{ data.note }}{% endif %}[{{ data.url | default: "none" }}]',
        {
          data: {},
        },
      );
      assert.equal(out, '[none]');
    });

    it('names the part that failed', async () => {
      await assert.rejects(
        r.render('k', { subject: '{{ data.missing }}', body: 'fine' }, { data: {} }),
        (err: unknown) => err instanceof TemplateRenderError && err.part === 'subject',
      );
    });
  });

  describe('C6: producer data is data, never template', () => {
    it('prints Liquid syntax inside data as text', async () => {
      const data = {
        name: '{{ recipient.secret }}{% for i in (1..3) %}x{% endfor %}',
        nested: { v: '{%- raw -%}' },
      };
      const out = await renderBody(r, 'Hi {{ data.name }} {{ data.nested.v }}', {
        data,
        recipient: { secret: 'SECRET' },
      });
      assert.equal(out, 'Hi {{ recipient.secret }}{% for i in (1..3) %}x{% endfor %} {%- raw -%}');
    });
  });

  describe('C8: no prototype access', () => {
    const data = { s: 'text', arr: [{ a: 1 }], obj: {} };

    it('constructor and __proto__ are not variables, and no function source leaks', async () => {
      for (const expr of [
        'data.constructor',
        'data.obj.constructor',
        'data.s.constructor',
        'data.arr.constructor',
        'data.__proto__',
        'data["constructor"]["name"]',
        'data.constructor.constructor',
      ]) {
        const err = await renderError(r, `{{ ${expr} }}`, { data });
        assert.equal(err.kind, 'undefined-variable', expr);
        assert.doesNotMatch(err.message, /function|native code|Object\(\)/, expr);
      }
    });

    it('renders empty when guarded', async () => {
      const out = await renderBody(
        r,
        '[{{ data.constructor | default: "" }}][{% if data.__proto__ %}leak{% endif %}][{{ data.arr | map: "constructor" | join: "" }}]',
        { data },
      );
      assert.equal(out, '[][][]');
    });

    it('treats a "__proto__" key in parsed JSON as plain data', async () => {
      const out = await renderBody(r, '{{ data.__proto__.x }}', {
        data: JSON.parse('{"__proto__": {"x": "own"}}'),
      });
      assert.equal(out, 'own');
    });
  });

  describe('C7: denial of service is cut short', () => {
    async function assertLimited(body: string, context: Record<string, unknown> = {}) {
      const started = performance.now();
      const err = await renderError(r, body, context);
      const ms = performance.now() - started;
      assert.ok(ms < 2_000, `took ${Math.round(ms)} ms`);
      assert.ok(
        ['limit-exceeded', 'output-too-large'].includes(err.kind),
        `${err.kind}: ${err.message}`,
      );
      return err;
    }

    it('a billion-step empty loop', async () => {
      await assertLimited('{% for i in (1..1000000000) %}{% endfor %}');
    });

    it('nested loops (work limit)', async () => {
      const err = await assertLimited(
        '{% for a in (1..1000) %}{% for b in (1..1000) %}{% for c in (1..1000) %}{% endfor %}{% endfor %}{% endfor %}',
      );
      assert.match(err.message, /render limit exceeded \(over 100000 steps\)/);
    });

    it('the work limit counts template nodes rendered, not time: the same answer on any machine', async () => {
      const small = new TemplateRenderer({ renderSteps: 1_000 });
      // A loop of n iterations over one output node is about 2n steps.
      const loop = (n: number) => `{% for i in (1..${n}) %}{{ i }}{% endfor %}`;
      const ok = await small.render('t', { body: loop(400) }, {});
      assert.equal(ok.body.length, 1_092);
      const err = await renderError(small, loop(600), {});
      assert.equal(err.kind, 'limit-exceeded');
      assert.match(err.message, /over 1000 steps/);
    });

    it('doubling a string with append', async () => {
      await assertLimited(
        '{% assign s = "xxxxxxxx" %}{% for i in (1..64) %}{% assign s = s | append: s %}{% endfor %}{{ s.size }}',
      );
    });

    it('doubling an array with concat', async () => {
      await assertLimited(
        '{% assign a = "a,b" | split: "," %}{% for i in (1..64) %}{% assign a = a | concat: a %}{% endfor %}{{ a.size }}',
      );
    });

    it('doubling with capture, then replace (would abort the process unlimited)', async () => {
      await assertLimited(
        '{% assign s = "xxxxxxxxxxxxxxxx" %}{% for i in (1..24) %}{% capture s %}{{ s }}{{ s }}{% endcapture %}{% endfor %}{{ s | replace: "x", "yy" | size }}',
      );
    });

    it('a huge date padding', async () => {
      await assertLimited("{{ 'now' | date: '%5000000d' }}");
      await assertLimited("{{ 'now' | date: '%500000000d' }}");
    });

    it('repeating large data into the output', async () => {
      await assertLimited('{% for i in (1..1000000) %}{{ data.big }}{% endfor %}', {
        data: { big: 'x'.repeat(100_000) },
      });
    });

    it('budgets a whole call: parts share one memory limit', async () => {
      const small = new TemplateRenderer({ memoryLimit: 1_000 });
      const part = '{% for i in (1..600) %}{% endfor %}';
      await small.render('k', { body: part }, {});
      await assert.rejects(
        small.render('k', { subject: part, body: part }, {}),
        TemplateRenderError,
      );
    });
  });

  describe('parse cache', () => {
    it('parses a text once, however often it is rendered or validated', async () => {
      const c = new TemplateRenderer();
      const parts = { subject: 'S {{ data.n }}', body: 'B {{ data.n }}' };
      assert.deepEqual(c.validate(parts), { ok: true });
      assert.equal(c.parseCount, 2);
      for (let n = 0; n < 5; n++) {
        assert.deepEqual(await c.render('k', parts, { data: { n } }), {
          subject: `S ${n}`,
          body: `B ${n}`,
        });
      }
      assert.equal(c.parseCount, 2);
    });

    it('evicts the least recently used text', async () => {
      const c = new TemplateRenderer({ cacheEntries: 2 });
      await c.render('k', { body: 'a' }, {});
      await c.render('k', { body: 'b' }, {});
      await c.render('k', { body: 'a' }, {}); // a is now the most recent
      await c.render('k', { body: 'c' }, {}); // evicts b
      assert.equal(c.parseCount, 3);
      await c.render('k', { body: 'a' }, {});
      assert.equal(c.parseCount, 3);
      await c.render('k', { body: 'b' }, {});
      assert.equal(c.parseCount, 4);
    });
  });

  describe('dates in the recipient time zone', () => {
    const data = { at: '2024-03-01T00:30:00Z' };

    it('uses the timezone option', async () => {
      const f = "{{ data.at | date: '%Y-%m-%d %H:%M %z' }}";
      assert.equal(
        await renderBody(r, f, { data }, { timezone: 'Asia/Shanghai' }),
        '2024-03-01 08:30 +0800',
      );
      assert.equal(
        await renderBody(r, f, { data }, { timezone: 'America/New_York' }),
        '2024-02-29 19:30 -0500',
      );
    });

    it('defaults to the renderer default (UTC unless configured)', async () => {
      const f = "{{ data.at | date: '%H:%M' }}";
      assert.equal(await renderBody(r, f, { data }), '00:30');
      assert.equal(
        await renderBody(new TemplateRenderer({ defaultTimezone: 'Asia/Shanghai' }), f, { data }),
        '08:30',
      );
    });

    it('follows daylight saving time at the instant shown', async () => {
      const f = "{{ data.at | date: '%H:%M %z' }}";
      const berlin = { timezone: 'Europe/Berlin' };
      assert.equal(
        await renderBody(r, f, { data: { at: '2024-03-31T00:30:00Z' } }, berlin),
        '01:30 +0100',
      );
      assert.equal(
        await renderBody(r, f, { data: { at: '2024-03-31T01:30:00Z' } }, berlin),
        '03:30 +0200',
      );
      assert.equal(await renderBody(r, f, { data: { at: 1711848600 } }, berlin), '03:30 +0200');
    });

    it('keeps %Z (zone name) and an explicit zone argument working', async () => {
      assert.equal(
        await renderBody(
          r,
          "{{ data.at | date: '%H:%M %Z' }}",
          { data },
          { timezone: 'Asia/Shanghai' },
        ),
        '08:30 Asia/Shanghai',
      );
      assert.equal(
        await renderBody(
          r,
          "{{ data.at | date: '%H:%M', 'Asia/Tokyo' }}",
          { data },
          { timezone: 'Asia/Shanghai' },
        ),
        '09:30',
      );
    });

    it('names weekdays in the given locale', async () => {
      assert.equal(
        await renderBody(
          r,
          "{{ data.at | date: '%A' }}",
          { data },
          { timezone: 'Asia/Shanghai', locale: 'zh-CN' },
        ),
        '星期五',
      );
    });

    it('fails clearly on an unknown zone', async () => {
      await assert.rejects(
        r.render(
          'k',
          { body: "{{ data.at | date: '%H:%M' }}" },
          { data },
          { timezone: 'Mars/Olympus' },
        ),
        (err: unknown) =>
          err instanceof TemplateRenderError &&
          /Invalid time zone specified: Mars\/Olympus/.test(err.message),
      );
    });
  });
});
