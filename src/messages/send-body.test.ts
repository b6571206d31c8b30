import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Problem } from '../http/problem.js';
import { parseSendBody } from './send-body.js';

const valid = {
  category: 'exam.reminder',
  to: { users: ['2024010101'] },
  data: { course: '植物生理学' },
  channels: ['in_app', 'email'],
  locale: 'zh-CN',
  sendAt: '2030-01-01T08:00:00Z',
};

function problemOf(raw: string): Problem {
  const result = parseSendBody(raw);
  assert.ok(result instanceof Problem, 'a problem');
  return result;
}

describe('parseSendBody: the message body of POST /v1/messages, for other doors', () => {
  it('returns a valid body as it is', () => {
    assert.deepEqual(parseSendBody(Buffer.from(JSON.stringify(valid))), valid);
  });

  it('refuses bytes that are not JSON as malformed-json', () => {
    const p = problemOf('{"category": ');
    assert.equal(p.code, 'malformed-json');
    assert.equal(p.status, 400);
  });

  it('lists what does not fit the schema with the paths of the HTTP API', () => {
    const p = problemOf(JSON.stringify({ category: '', extra: 1, channels: ['pigeon'] }));
    assert.equal(p.code, 'validation-failed');
    const errors = p.extensions.errors as { path: string; message: string }[];
    const paths = errors.map((e) => e.path);
    assert.ok(paths.includes('body/to'), 'the missing audience');
    assert.ok(paths.includes('body/extra'), 'the unknown member');
    assert.ok(paths.includes('body/category'), 'the empty category');
    assert.ok(
      paths.some((x) => x.startsWith('body/channels/0')),
      'the unknown channel',
    );
    assert.equal(
      errors.find((e) => e.path === 'body/to')?.message,
      "must have required property 'to'",
    );
    assert.equal(p.detail, `${errors[0]!.path} ${errors[0]!.message}`);
  });

  it('checks formats and patterns: sendAt must be a date-time, locale a language tag', () => {
    const p = problemOf(JSON.stringify({ ...valid, sendAt: 'tomorrow', locale: 'Chinese!' }));
    const paths = (p.extensions.errors as { path: string }[]).map((e) => e.path).sort();
    assert.deepEqual(paths, ['body/locale', 'body/sendAt']);
  });

  it('refuses JSON that is not an object, and lists a bounded number of issues', () => {
    assert.equal(problemOf('[1, 2]').code, 'validation-failed');
    assert.equal(problemOf('"text"').code, 'validation-failed');
    const users = Array.from({ length: 100 }, () => 7);
    const p = problemOf(JSON.stringify({ category: 'x', to: { users } }));
    const listed = (p.extensions.errors as unknown[]).length;
    assert.ok(listed > 1 && listed <= 20, `${listed} issues listed`);
  });
});
