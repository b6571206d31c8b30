import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { canonicalLocale, localeChain } from './locale-chain.js';

describe('localeChain', () => {
  it('goes user locale → its language → zh-CN → en', () => {
    assert.deepEqual(localeChain('zh-HK'), ['zh-HK', 'zh', 'zh-CN', 'en']);
    assert.deepEqual(localeChain('fr-FR'), ['fr-FR', 'fr', 'zh-CN', 'en']);
  });

  it('has no duplicates', () => {
    assert.deepEqual(localeChain('zh-CN'), ['zh-CN', 'zh', 'en']);
    assert.deepEqual(localeChain('en'), ['en', 'zh-CN']);
    assert.deepEqual(localeChain('en-US', 'en-US'), ['en-US', 'en', 'zh-CN']);
  });

  it("puts the message's locale (and its language) before the user's", () => {
    assert.deepEqual(localeChain('zh-HK', 'en-GB'), ['en-GB', 'en', 'zh-HK', 'zh', 'zh-CN']);
    assert.deepEqual(localeChain('zh-HK', null), ['zh-HK', 'zh', 'zh-CN', 'en']);
  });

  it('canonicalises case and skips tags that are not locales', () => {
    assert.deepEqual(localeChain('zh-hk'), ['zh-HK', 'zh', 'zh-CN', 'en']);
    assert.deepEqual(localeChain('', 'not a locale!'), ['zh-CN', 'en']);
  });
});

describe('canonicalLocale', () => {
  it('canonicalises well-formed tags and refuses others', () => {
    assert.equal(canonicalLocale('zh-cn'), 'zh-CN');
    assert.equal(canonicalLocale('ZH-hant-hk'), 'zh-Hant-HK');
    assert.equal(canonicalLocale('es-419'), 'es-419');
    assert.equal(canonicalLocale('en'), 'en');
    assert.equal(canonicalLocale('en_US'), null);
    assert.equal(canonicalLocale('../etc'), null);
    assert.equal(canonicalLocale('x'), null);
  });
});
