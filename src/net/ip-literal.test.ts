import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseIpLiteral, parseIPv4Loose } from './ip-literal.js';

describe('parseIpLiteral', () => {
  it('reads every IPv4 spelling a resolver accepts as the same address', () => {
    const spellings = [
      '127.0.0.1',
      '127.1',
      '127.0.1',
      '0x7f000001',
      '0X7F000001',
      '2130706433',
      '017700000001',
      '0177.0.0.1',
      '0x7f.1',
      '0x7f.0.0.0x1',
      '127.0.0.1.',
    ];
    for (const spelling of spellings) {
      assert.deepEqual(parseIpLiteral(spelling), { family: 4, address: '127.0.0.1' }, spelling);
    }
    assert.equal(parseIPv4Loose('0'), '0.0.0.0');
    assert.equal(parseIPv4Loose('0x'), '0.0.0.0'); // WHATWG: a bare 0x is zero
    assert.equal(parseIPv4Loose('0xa9fea9fe'), '169.254.169.254');
    assert.equal(parseIPv4Loose('4294967295'), '255.255.255.255');
  });

  it('reads bracketed and zoned IPv6, keeping mapped addresses as IPv6 for the policy', () => {
    assert.deepEqual(parseIpLiteral('[::1]'), { family: 6, address: '::1' });
    assert.deepEqual(parseIpLiteral('[::ffff:127.0.0.1]'), {
      family: 6,
      address: '::ffff:127.0.0.1',
    });
    assert.deepEqual(parseIpLiteral('[::FFFF:7F00:1]'), { family: 6, address: '::ffff:7f00:1' });
    assert.deepEqual(parseIpLiteral('fe80::1%eth0'), { family: 6, address: 'fe80::1' });
  });

  it('leaves names and out-of-range numbers to DNS', () => {
    for (const name of [
      'example.com',
      'localhost',
      '4294967296',
      '256.0.0.1',
      '1.2.3.4.5',
      '08.0.0.1',
      '1..2',
      '',
      '0x1ffffffff',
      '99999999999999999999',
    ]) {
      assert.equal(parseIPv4Loose(name), null, name);
    }
    assert.equal(parseIpLiteral('example.com'), null);
    assert.equal(parseIpLiteral('127.0.0.1.example.com'), null);
  });
});
