import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createAddressPolicy } from './address-policy.js';

describe('address policy', () => {
  const policy = createAddressPolicy();

  it('refuses every non-public range, whatever the port', () => {
    const cases: Array<[string, string]> = [
      ['127.0.0.1', 'loopback'],
      ['127.255.255.254', 'loopback'],
      ['::1', 'loopback'],
      ['0.0.0.0', 'unspecified'],
      ['0.1.2.3', 'unspecified'],
      ['::', 'unspecified'],
      ['10.0.0.1', 'private'],
      ['172.16.0.1', 'private'],
      ['172.31.255.255', 'private'],
      ['192.168.1.1', 'private'],
      ['fc00::1', 'private'],
      ['fd12:3456::1', 'private'],
      ['100.64.0.1', 'shared'],
      ['100.127.255.255', 'shared'],
      ['169.254.169.254', 'link-local'],
      ['fe80::1', 'link-local'],
      ['224.0.0.1', 'multicast'],
      ['ff02::1', 'multicast'],
      ['240.0.0.1', 'reserved'],
      ['255.255.255.255', 'reserved'],
      ['192.0.0.8', 'reserved'],
      ['198.18.0.1', 'reserved'],
      ['2002:7f00:1::', 'reserved'], // 6to4 of 127.0.0.1
      ['2001:0:4136:e378::1', 'reserved'], // Teredo
      ['::7f00:1', 'reserved'], // IPv4-compatible ::127.0.0.1
      ['64:ff9b:1::1', 'reserved'],
      ['192.0.2.1', 'documentation'],
      ['2001:db8::1', 'documentation'],
      // IPv4 inside IPv6 is judged by the IPv4 address.
      ['::ffff:127.0.0.1', 'loopback'],
      ['::ffff:7f00:1', 'loopback'],
      ['::ffff:a9fe:a9fe', 'link-local'],
      ['0:0:0:0:0:ffff:10.0.0.1', 'private'],
      ['64:ff9b::a9fe:a9fe', 'link-local'], // NAT64 of the metadata address
      ['64:ff9b::127.0.0.1', 'loopback'],
      ['not-an-ip', 'invalid'],
    ];
    for (const [address, reason] of cases) {
      assert.deepEqual(policy.check(address, 443), { allowed: false, reason }, address);
    }
  });

  it('lets public addresses through on 80 and 443 only, unless more ports are allowed', () => {
    for (const address of [
      '93.184.215.14',
      '8.8.8.8',
      '2606:4700::1111',
      '::ffff:8.8.8.8',
      '64:ff9b::808:808',
    ]) {
      assert.deepEqual(policy.check(address, 443), { allowed: true, allowListed: false }, address);
      assert.deepEqual(policy.check(address, 80), { allowed: true, allowListed: false }, address);
      assert.deepEqual(policy.check(address, 25), { allowed: false, reason: 'port' }, address);
    }
    const withPorts = createAddressPolicy({ allowPorts: [8443] });
    assert.equal(withPorts.check('8.8.8.8', 8443).allowed, true);
    assert.equal(withPorts.check('8.8.8.8', 443).allowed, false);
  });

  it('lets an operator allow-list a network, on any port, including its mapped IPv6 form', () => {
    const allowing = createAddressPolicy({
      allowCidrs: ['127.0.0.0/8', '10.20.0.0/16', 'fd00:1::/32'],
    });
    for (const address of [
      '127.0.0.1',
      '127.9.9.9',
      '::ffff:127.0.0.1',
      '10.20.3.4',
      'fd00:1::5',
    ]) {
      assert.deepEqual(
        allowing.check(address, 54321),
        { allowed: true, allowListed: true },
        address,
      );
    }
    for (const address of ['::1', '10.21.0.1', '169.254.169.254', 'fd00:2::1']) {
      assert.equal(allowing.check(address, 80).allowed, false, address);
    }
  });

  it('rejects malformed allow-list entries at creation', () => {
    for (const cidr of ['127.0.0.1', '10.0.0.0/33', 'fc00::/129', 'nope/8', '']) {
      assert.throws(() => createAddressPolicy({ allowCidrs: [cidr] }), /Invalid CIDR/, cidr);
    }
  });
});
