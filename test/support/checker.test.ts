import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { check } from './checker.js';

describe('the delivery checker', () => {
  const recipientsOf = () => ['a', 'b'];

  it('counts nothing wrong when every accepted message reached everyone once', () => {
    const r = check({
      accepted: ['m1'],
      recipientsOf,
      received: [
        { messageId: 'm1', recipient: 'a' },
        { messageId: 'm1', recipient: 'b' },
      ],
      stuck: 0,
    });
    assert.deepEqual(r, {
      expected: 2,
      received: 2,
      lost: 0,
      duplicated: 0,
      unexpected: 0,
      stuck: 0,
    });
  });

  it('counts lost, duplicated and unexpected copies separately', () => {
    const r = check({
      accepted: ['m1', 'm2'],
      recipientsOf,
      received: [
        { messageId: 'm1', recipient: 'a' },
        { messageId: 'm1', recipient: 'a' },
        { messageId: 'm1', recipient: 'a' },
        { messageId: 'm1', recipient: 'b' },
        { messageId: 'm2', recipient: 'c' },
        { messageId: 'm9', recipient: 'a' },
      ],
      stuck: 3,
    });
    assert.equal(r.lost, 2, 'm2 never reached a nor b');
    assert.equal(r.duplicated, 2, 'two extra copies of m1 for a');
    assert.equal(r.unexpected, 2, 'm2 to c, and m9 that was never accepted');
    assert.equal(r.stuck, 3);
  });
});
