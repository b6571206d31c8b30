import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalTimeZone } from './time-zone.js';

test('an IANA name comes back in the spelling Intl resolves it to', () => {
  assert.equal(canonicalTimeZone('Asia/Shanghai'), 'Asia/Shanghai');
  assert.equal(canonicalTimeZone('asia/shanghai'), 'Asia/Shanghai');
  assert.equal(canonicalTimeZone('Europe/Berlin'), 'Europe/Berlin');
  assert.equal(canonicalTimeZone('Etc/UTC'), 'UTC');
});

test('an unknown name, an offset or an empty string is not a time zone', () => {
  assert.equal(canonicalTimeZone('Mars/Olympus_Mons'), null);
  assert.equal(canonicalTimeZone('Beijing'), null);
  assert.equal(canonicalTimeZone('+08:00'), null);
  assert.equal(canonicalTimeZone('-05:00'), null);
  assert.equal(canonicalTimeZone(''), null);
  assert.equal(canonicalTimeZone(`Asia/${'x'.repeat(80)}`), null);
});
