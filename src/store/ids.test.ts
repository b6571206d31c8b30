import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from './ids.js';

describe('newId (UUIDv7)', () => {
  it('is a version-7, variant-1 UUID carrying the time', () => {
    const id = newId(Date.parse('2026-11-26T00:00:00Z'));
    assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.equal(
      parseInt(id.replace(/-/g, '').slice(0, 12), 16),
      Date.parse('2026-11-26T00:00:00Z'),
    );
  });

  it('never goes backwards: within a millisecond, across many ids and when the clock steps back', () => {
    const ids: string[] = [];
    const t = Date.now() + 10_000;
    for (let i = 0; i < 5000; i++) ids.push(newId(t));
    for (let i = 0; i < 10; i++) ids.push(newId(t - 5));
    for (let i = 0; i < 10; i++) ids.push(newId(t + 1));
    for (let i = 1; i < ids.length; i++)
      assert.ok(ids[i - 1]! < ids[i]!, `id ${i} sorts after id ${i - 1}`);
    assert.equal(new Set(ids).size, ids.length);
  });
});
