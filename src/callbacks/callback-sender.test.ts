import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classify, parseRetryAfter } from './callback-sender.js';
import { callbackUrlProblem } from './callback-url.js';

const NOW = Date.parse('2025-01-06T08:00:00Z');

describe('what a receiver answer means for an event', () => {
  it('is done on any 2xx', () => {
    for (const status of [200, 201, 202, 204]) {
      assert.deepEqual(classify(status, undefined, NOW), { kind: 'ok', status });
    }
  });

  it('is retried on 408, 429 and 5xx, honouring Retry-After', () => {
    for (const status of [408, 429, 500, 502, 503, 504]) {
      assert.equal(classify(status, undefined, NOW).kind, 'retry', String(status));
    }
    assert.deepEqual(classify(429, '120', NOW), {
      kind: 'retry',
      error: 'HTTP 429',
      status: 429,
      retryAfterMs: 120_000,
    });
  });

  it('is given up on other 4xx and on 3xx (redirects are never followed)', () => {
    for (const status of [301, 302, 400, 401, 403, 404, 410, 422]) {
      assert.equal(classify(status, undefined, NOW).kind, 'rejected', String(status));
    }
  });

  it('reads Retry-After as seconds or as an HTTP date, bounded to a day', () => {
    assert.equal(parseRetryAfter('0', NOW), 0);
    assert.equal(parseRetryAfter(' 30 ', NOW), 30_000);
    assert.equal(parseRetryAfter(new Date(NOW + 90_000).toUTCString(), NOW), 90_000);
    assert.equal(parseRetryAfter(new Date(NOW - 90_000).toUTCString(), NOW), 0, 'a past date');
    assert.equal(parseRetryAfter('999999999', NOW), 24 * 3600_000);
    assert.equal(parseRetryAfter('soon', NOW), null);
    assert.equal(parseRetryAfter('-5', NOW), null);
    assert.equal(parseRetryAfter(undefined, NOW), null);
  });
});

describe('callback URLs', () => {
  it('accepts http and https URLs, with a port, path and query', () => {
    for (const url of [
      'https://jwc.example.edu/herald/events',
      'http://10.20.1.5:8080/cb?channel=herald',
    ]) {
      assert.equal(callbackUrlProblem(url), null, url);
    }
  });

  it('refuses other schemes, credentials, fragments and non-URLs, saying why', () => {
    assert.match(callbackUrlProblem('ftp://example.edu/x')!, /http: or https:, not ftp:/);
    assert.match(callbackUrlProblem('file:///etc/passwd')!, /not file:/);
    assert.match(callbackUrlProblem('https://user:pw@example.edu/')!, /user:password@/);
    assert.match(callbackUrlProblem('https://user@example.edu/')!, /user:password@/);
    assert.match(callbackUrlProblem('https://example.edu/x#frag')!, /fragment/);
    assert.match(callbackUrlProblem('/relative/path')!, /not an absolute URL/);
  });
});
