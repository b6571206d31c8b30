import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ADMIN_TOKEN, client, startTestHerald, type TestHerald } from '../support/test-herald.js';
import { DEMO_EXAMPLES } from '../../src/demo/demo-seed.js';

interface Item {
  channel: string;
  locale: string;
  templateLocale: string | null;
  version: number | null;
  rendered: { subject?: string; title?: string; body: string } | null;
  error: { kind: string; message: string; part?: string; line?: number; col?: number } | null;
}

describe('POST /v1/messages/preview: what each channel carries, in each language', () => {
  let t: TestHerald;
  let admin: ReturnType<typeof client>;
  const preview = (body: Record<string, unknown>) => admin('POST', '/v1/messages/preview', body);
  const exam = { category: 'exam.reminder', data: DEMO_EXAMPLES['exam.reminder'] };
  const item = (items: Item[], channel: string, locale: string) =>
    items.find((i) => i.channel === channel && i.locale === locale)!;

  before(async () => {
    t = await startTestHerald();
    admin = client(t.url, ADMIN_TOKEN);
  });
  after(() => t.close());

  it("renders the category's channels in every language it has templates in", async () => {
    const res = await preview(exam);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.ok, true);
    const items = res.body.items as Item[];
    assert.deepEqual(
      items.map((i) => `${i.channel}/${i.locale}`),
      ['in_app/zh-CN', 'in_app/en', 'sms/zh-CN', 'sms/en', 'wechat/zh-CN', 'wechat/en'],
    );
    const zh = item(items, 'in_app', 'zh-CN');
    assert.equal(zh.templateLocale, 'zh-CN');
    assert.equal(zh.version, 1);
    assert.equal(zh.rendered!.title, '考试提醒：植物生理学');
    assert.match(zh.rendered!.body, /^预览用户同学，你好！《植物生理学》/);
    assert.match(item(items, 'in_app', 'en').rendered!.body, /^Dear Preview User, your 植物生理学/);
    assert.match(item(items, 'sms', 'zh-CN').rendered!.body, /座位 17/);
  });

  it('takes the send body as it is, to and sendAt included', async () => {
    const res = await preview({
      ...exam,
      to: { groups: ['class-2024-agronomy-1'] },
      sendAt: new Date(Date.now() + 3600_000).toISOString(),
      channels: ['in_app'],
      source: 'jwc',
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.items.length, 2);
  });

  it('renders for a real user: their name and language', async () => {
    const res = await preview({ ...exam, channels: ['in_app'], recipient: '2024010102' });
    const items = res.body.items as Item[];
    assert.deepEqual(
      items.map((i) => i.locale),
      ['en'],
    );
    assert.match(items[0]!.rendered!.body, /^Dear Leila Sharma,/);
  });

  it("follows the delivery's locale chain: reader's fallbacks and the message's locale", async () => {
    const hk = (await preview({ ...exam, channels: ['in_app'], locales: ['zh-hk'] })).body
      .items as Item[];
    assert.deepEqual(
      hk.map((i) => [i.locale, i.templateLocale]),
      [['zh-HK', 'zh-CN']],
    );
    const forced = (
      await preview({ ...exam, channels: ['in_app'], locale: 'en', locales: ['zh-CN'] })
    ).body.items as Item[];
    assert.equal(forced[0]!.templateLocale, 'en', 'the message locale wins, as in a send');
  });

  it('reports missing data per item with part, line and column', async () => {
    const res = await preview({
      category: 'exam.reminder',
      data: { course: '植物生理学', room: 'A201' },
      channels: ['in_app'],
      locales: ['zh-CN'],
    });
    assert.equal(res.status, 200);
    assert.equal(res.body.ok, false);
    const [only] = res.body.items as Item[];
    assert.equal(only!.rendered, null);
    assert.equal(only!.error!.kind, 'undefined-variable');
    assert.equal(only!.error!.part, 'body');
    assert.equal(only!.error!.line, 1);
    assert.ok(only!.error!.col! > 1);
    assert.match(only!.error!.message, /data\.time/);
  });

  it('a channel without a template is an item error, not a failed request', async () => {
    const res = await preview({ ...exam, channels: ['email'], locales: ['zh-CN'] });
    assert.equal(res.body.ok, false);
    const [only] = res.body.items as Item[];
    assert.equal(only!.error!.kind, 'no-template');
    assert.match(only!.error!.message, /no email template for exam\.reminder in zh-CN, zh, en/);
  });

  it('uses the current template version and the source named', async () => {
    const put = await admin('PUT', '/v1/templates/exam.reminder/email/zh-CN', {
      subject: '【{{ source.name }}】考试提醒：{{ data.course }}',
      body: '{{ recipient.name }}：{{ data.time }}',
    });
    assert.equal(put.status, 201);
    const res = await preview({ ...exam, channels: ['email'], locales: ['zh-CN'], source: 'jwc' });
    const [only] = res.body.items as Item[];
    assert.equal(only!.version, 1);
    assert.equal(only!.rendered!.subject, '【教务处】考试提醒：植物生理学');
  });

  it('refuses an unknown category, source, recipient or locale', async () => {
    const cases: [Record<string, unknown>, number, string][] = [
      [{ category: 'nope' }, 422, 'unknown-category'],
      [{ ...exam, source: 'nope' }, 422, 'unknown-source'],
      [{ ...exam, recipient: '2099999999' }, 422, 'unknown-recipients'],
      [{ ...exam, locales: ['not a locale'] }, 400, 'validation-failed'],
      [{ ...exam, channels: ['fax'] }, 400, 'validation-failed'],
      [{ ...exam, extra: true }, 400, 'validation-failed'],
    ];
    for (const [body, status, code] of cases) {
      const res = await preview(body);
      assert.equal(res.status, status, JSON.stringify(body));
      assert.equal(res.body.code, code);
    }
  });
});
