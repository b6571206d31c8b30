import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ConfigError, envExample, loadConfig, CONFIG_SPEC } from './config.js';

describe('configuration from HERALD_* variables', () => {
  it('has working defaults for the embedded mode', () => {
    const c = loadConfig({});
    assert.equal(c.port, 8080);
    assert.equal(c.dataDir, './data');
    assert.equal(c.databaseUrl, '');
    assert.equal(c.demo, false);
    assert.equal(c.sandbox, false);
    assert.equal(c.publicUrl, '');
    assert.ok(Object.isFrozen(c));
  });

  it('turns the sandbox on by default when the demo is on, unless told otherwise', () => {
    assert.equal(loadConfig({ HERALD_DEMO: 'true' }).sandbox, true);
    assert.equal(loadConfig({ HERALD_DEMO: 'true', HERALD_SANDBOX: 'off' }).sandbox, false);
  });

  it('stops start-up naming every wrong variable', () => {
    assert.throws(
      () =>
        loadConfig({
          HERALD_PORT: 'eighty',
          HERALD_DEMO: 'maybe',
          HERALD_DATABASE_URL: 'mysql://x',
        }),
      (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /HERALD_PORT must be a whole number, got "eighty"/);
        assert.match(err.message, /HERALD_DEMO must be true or false, got "maybe"/);
        assert.match(err.message, /HERALD_DATABASE_URL must use postgres: or postgresql:/);
        return true;
      },
    );
  });

  it('treats empty values (as in .env.example) as defaults', () => {
    const c = loadConfig({
      HERALD_DEMO: '',
      HERALD_SANDBOX: '',
      HERALD_HOST: '',
      HERALD_DATA_DIR: ' ',
      HERALD_PORT: '',
    });
    assert.equal(c.sandbox, false);
    assert.equal(c.host, '0.0.0.0');
    assert.equal(c.dataDir, './data');
    assert.equal(c.port, 8080);
  });

  it('rejects a port out of range and a short admin token', () => {
    assert.throws(
      () => loadConfig({ HERALD_PORT: '70000' }),
      /HERALD_PORT must be between 0 and 65535/,
    );
    assert.throws(
      () => loadConfig({ HERALD_ADMIN_TOKEN: 'short' }),
      /HERALD_ADMIN_TOKEN must be at least 16/,
    );
  });

  it('has no operations port unless HERALD_OPS_PORT is set (0 picks a free one)', () => {
    assert.equal(loadConfig({}).opsPort, null);
    assert.equal(loadConfig({ HERALD_OPS_PORT: '' }).opsPort, null);
    assert.equal(loadConfig({ HERALD_OPS_PORT: '0' }).opsPort, 0);
    assert.equal(loadConfig({ HERALD_OPS_PORT: ' 9464 ' }).opsPort, 9464);
    assert.throws(
      () => loadConfig({ HERALD_OPS_PORT: '70000' }),
      /HERALD_OPS_PORT must be between 0 and 65535, got 70000/,
    );
    assert.throws(
      () => loadConfig({ HERALD_OPS_PORT: 'metrics' }),
      /HERALD_OPS_PORT must be a whole number, got "metrics"/,
    );
  });

  it('flags a misspelt HERALD_ variable instead of ignoring it', () => {
    assert.throws(() => loadConfig({ HERALD_PROT: '8080' }), /HERALD_PROT is not a Herald setting/);
  });

  it('never echoes credentials of a URL in an error', () => {
    assert.throws(
      () => loadConfig({ HERALD_SMTP_URL: 'smtp://user:secret@bad host:25' }),
      (err: unknown) =>
        /HERALD_SMTP_URL must be a URL/.test((err as Error).message) &&
        !(err as Error).message.includes('secret'),
    );
  });

  it('lists every setting in .env.example', () => {
    const text = envExample();
    for (const name of Object.keys(CONFIG_SPEC)) assert.match(text, new RegExp(`^${name}=`, 'm'));
  });
});

describe('.env.example', () => {
  it('is the one generated from the spec', async () => {
    const { readFile } = await import('node:fs/promises');
    const text = await readFile(new URL('../../.env.example', import.meta.url), 'utf8');
    assert.ok(
      text.endsWith(envExample() + '\n'),
      '.env.example is out of date: regenerate it from envExample()',
    );
  });
});
