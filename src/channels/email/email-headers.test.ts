import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { headerText, isPlausibleAddress, parseMailbox } from './email-headers.js';

describe('header-safe values', () => {
  it('turns every control character and line separator into one space', () => {
    assert.equal(headerText('Hi\r\nBcc: evil@x.test'), 'Hi Bcc: evil@x.test');
    assert.equal(headerText('a\u0000b\tc\u007fd\u0085e\u2028f\u2029g'), 'a b c d e f g');
    assert.equal(headerText('  考试\n\n安排  '), '考试 安排');
  });

  it('accepts one plain address, international ones included', () => {
    for (const ok of [
      'li.hua@stu.example.edu',
      'a+tag@x.test',
      '李华@北京大学.中国',
      "o'neil@x.test",
    ]) {
      assert.equal(isPlausibleAddress(ok), true, ok);
    }
  });

  it('refuses names, lists, quotes, whitespace, control characters and odd shapes', () => {
    for (const bad of [
      '',
      'a',
      '@x.test',
      'a@',
      'a@x',
      'a@x..test',
      'a@-x.test',
      '.a@x.test',
      'a..b@x.test',
      'a b@x.test',
      'a@x.test\r\nBcc: b@x.test',
      'A <a@x.test>',
      '"a"@x.test',
      'a@x.test,b@x.test',
      'a(comment)@x.test',
      `${'a'.repeat(65)}@x.test`,
      `a@${'b'.repeat(250)}.test`,
    ]) {
      assert.equal(isPlausibleAddress(bad), false, JSON.stringify(bad));
    }
  });

  it('parses the configured sender into one mailbox with a clean name', () => {
    assert.deepEqual(parseMailbox('Herald <noreply@example.edu>'), {
      name: 'Herald',
      address: 'noreply@example.edu',
    });
    assert.deepEqual(parseMailbox('noreply@example.edu'), {
      name: '',
      address: 'noreply@example.edu',
    });
    assert.deepEqual(parseMailbox('"教务处\r\nBcc: x@x.test" <jwc@example.edu>'), {
      name: '教务处 Bcc: x@x.test',
      address: 'jwc@example.edu',
    });
    assert.throws(() => parseMailbox('a@x.test, b@x.test'), /is not one email address/);
  });

  it('reads quoted names and bracketed addresses, and nothing looser', () => {
    assert.deepEqual(parseMailbox(' "Office, \\"Dept\\"" <office@x.test> '), {
      name: 'Office, "Dept"',
      address: 'office@x.test',
    });
    assert.deepEqual(parseMailbox('<office@x.test>'), { name: '', address: 'office@x.test' });
    for (const bad of [
      'help@x.test>\r\nBcc: evil@x.test',
      'Help <help@x.test>\r\nBcc: evil@x.test',
      'Help <help@x.test>, evil@x.test',
      'Help <help@x.test> <evil@x.test>',
      'Help <help@x.test',
      'help@x.test (Help)',
      'Help <>',
      '',
    ]) {
      assert.throws(() => parseMailbox(bad), /is not one email address/, JSON.stringify(bad));
    }
  });
});
