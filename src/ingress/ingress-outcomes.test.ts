import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Problem } from '../http/problem.js';
import { problemHeaders, rejectedCopy, reply, type Received } from './ingress-outcomes.js';

const received: Received = {
  content: Buffer.from('{"category": '),
  fields: { exchange: 'herald.ingress', routingKey: 'exam.reminder' },
  properties: {
    contentType: 'application/json',
    headers: { 'X-Api-Key': 'hk_secret', Authorization: 'Bearer hk_secret', trace: 't-1' },
    correlationId: 'c-1',
    replyTo: 'amq.gen-abc',
    messageId: 'm-1',
    timestamp: 1_700_000_000,
    userId: 'jwc',
    appId: 'jwxt',
  },
};

describe('what the AMQP ingress publishes', () => {
  it('puts the problem in headers: type, title, status, code, detail, errors', () => {
    const problem = new Problem('validation-failed', 'body/to is missing', {
      errors: [{ path: 'body/to', message: "must have required property 'to'" }],
    });
    assert.deepEqual(problemHeaders(problem), {
      'problem-type': 'https://herald.dev/problems/validation-failed',
      'problem-title': 'The request is not valid',
      'problem-status': 400,
      'problem-code': 'validation-failed',
      'problem-detail': 'body/to is missing',
      'problem-errors': JSON.stringify([
        { path: 'body/to', message: "must have required property 'to'" },
      ]),
    });
  });

  it('keeps other problem members as JSON and cuts very long lists (the reply has them whole)', () => {
    const unknownUsers = Array.from({ length: 5000 }, (_, i) => `student-${i}`);
    const problem = new Problem('unknown-recipients', 'Unknown users …', {
      unknownUsers,
      unknownGroups: ['g1'],
    });
    const headers = problemHeaders(problem);
    const ext = JSON.parse(String(headers['problem-extensions'])) as {
      unknownUsers: string[];
      unknownGroups: string[];
    };
    assert.deepEqual(ext.unknownGroups, ['g1']);
    assert.ok(ext.unknownUsers.length > 0 && ext.unknownUsers.length < 5000);
    assert.deepEqual(ext.unknownUsers, unknownUsers.slice(0, ext.unknownUsers.length));
    assert.equal(headers['problem-truncated'], true);
    const answer = JSON.parse(reply({ kind: 'rejected', problem }, 'c').content.toString());
    assert.equal(answer.unknownUsers.length, 5000);
  });

  it('copies a refused message with its body and properties, never its credentials', () => {
    const problem = new Problem('malformed-json', 'The message body is not valid JSON');
    const copy = rejectedCopy(received, problem, 'jwc', Date.UTC(2025, 0, 6, 8));
    assert.equal(copy.content, received.content);
    const o = copy.options;
    assert.equal(o.persistent, true);
    assert.equal(o.messageId, 'm-1');
    assert.equal(o.correlationId, 'c-1');
    assert.equal(o.appId, 'jwxt');
    assert.equal(o.userId, undefined, 'the broker would refuse a foreign user_id');
    const h = o.headers as Record<string, unknown>;
    assert.equal(h['herald-user-id'], 'jwc');
    assert.equal(h['herald-source'], 'jwc');
    assert.equal(h['herald-rejected-at'], '2025-01-06T08:00:00.000Z');
    assert.equal(h['herald-routing-key'], 'exam.reminder');
    assert.equal(h['problem-code'], 'malformed-json');
    assert.equal(h.trace, 't-1');
    assert.equal(h['X-Api-Key'], undefined);
    assert.equal(h.Authorization, undefined);
  });

  it('answers an acceptance as JSON with status 202 and the correlation id', () => {
    const r = reply(
      { kind: 'accepted', status: 202, body: { id: 'x', status: 'accepted' }, replay: true },
      'c-9',
    );
    assert.equal(r.options.correlationId, 'c-9');
    assert.equal(r.options.contentType, 'application/json');
    assert.deepEqual(r.options.headers, { status: 202, 'idempotency-replay': true });
    assert.deepEqual(JSON.parse(r.content.toString()), { id: 'x', status: 'accepted' });
  });

  it('answers a problem as application/problem+json with its status', () => {
    const r = reply({ kind: 'rejected', problem: new Problem('unknown-category', 'nope') }, 'c');
    assert.equal(r.options.contentType, 'application/problem+json');
    assert.deepEqual(r.options.headers, { status: 422 });
    assert.deepEqual(JSON.parse(r.content.toString()), {
      type: 'https://herald.dev/problems/unknown-category',
      title: 'Unknown category',
      status: 422,
      code: 'unknown-category',
      detail: 'nope',
    });
  });
});
