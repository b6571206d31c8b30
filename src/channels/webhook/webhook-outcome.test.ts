import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { OutboundError } from '../../net/outbound-error.js';
import {
  MAX_RETRY_AFTER_MS,
  outcomeOfError,
  outcomeOfResponse,
  retryAfterMs,
} from './webhook-outcome.js';

const NOW = Date.parse('2025-09-01T08:00:00Z');
const res = (status: number, body = '', headers: Record<string, string> = {}) => ({
  status,
  headers,
  body,
  truncated: false,
});

describe('webhook outcome', () => {
  it('reads Retry-After as seconds or an HTTP date, capped, and ignores nonsense', () => {
    assert.equal(retryAfterMs('3', NOW), 3_000);
    assert.equal(retryAfterMs(' 120 ', NOW), 120_000);
    assert.equal(retryAfterMs('Mon, 01 Sep 2025 08:01:00 GMT', NOW), 60_000);
    assert.equal(retryAfterMs('Mon, 01 Sep 2025 07:59:00 GMT', NOW), undefined, 'past');
    assert.equal(retryAfterMs('0', NOW), undefined);
    assert.equal(retryAfterMs('-5', NOW), undefined);
    assert.equal(retryAfterMs('soon', NOW), undefined);
    assert.equal(retryAfterMs(undefined, NOW), undefined);
    assert.equal(retryAfterMs('999999', NOW), MAX_RETRY_AFTER_MS);
  });

  it('takes a plain JSON id from a 2xx answer, nothing else', () => {
    const id = (body: string, truncated = false) => {
      const o = outcomeOfResponse({ ...res(200, body), truncated }, 'https://x', NOW);
      return o.ok ? o.providerMessageId : 'not ok';
    };
    assert.equal(id('{"id":"evt_123"}'), 'evt_123');
    assert.equal(id('{"id":42}'), '42');
    assert.equal(id('{"id":"has space"}'), null);
    assert.equal(id(`{"id":"${'x'.repeat(129)}"}`), null);
    assert.equal(id('{"id":{"nested":1}}'), null);
    assert.equal(id('ok'), null);
    assert.equal(id(''), null);
    assert.equal(id('{"id":"evt_1"}', true), null);
  });

  it('never echoes the body of an error answer', () => {
    const o = outcomeOfResponse(res(500, 'secret internals'), 'https://hooks.example', NOW);
    assert.equal(!o.ok && o.error.message, 'HTTP 500 from https://hooks.example');
  });

  it('maps outbound errors: policy and bad input permanent, network transient', () => {
    const kind = (e: unknown) => {
      const o = outcomeOfError(e);
      return o.ok ? 'ok' : o.error.kind;
    };
    assert.equal(kind(new OutboundError('refused-address', 'Refused')), 'permanent');
    assert.equal(kind(new OutboundError('bad-url', 'bad')), 'permanent');
    assert.equal(kind(new OutboundError('too-large', 'big')), 'permanent');
    assert.equal(kind(new OutboundError('bad-request', 'hdr')), 'permanent');
    assert.equal(kind(new OutboundError('timeout', 't')), 'transient');
    assert.equal(kind(new OutboundError('connect', 'c')), 'transient');
    assert.equal(kind(new OutboundError('reset', 'r')), 'transient');
    assert.equal(kind(new Error('surprise')), 'transient');
  });
});
