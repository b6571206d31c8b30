import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePostgresUrl } from './postgres-url.js';

describe('parsePostgresUrl', () => {
  it('takes Herald’s schema parameter off the URL and sets the search path with it', () => {
    const t = parsePostgresUrl('postgres://herald:pw@db.example.edu:5432/herald?schema=campus');

    assert.equal(t.schema, 'campus');
    assert.equal(t.options, '-c search_path=campus');
    assert.equal(t.connectionString, 'postgres://herald:pw@db.example.edu:5432/herald');
  });

  it('keeps the other parameters, and appends the search path to given server options', () => {
    const t = parsePostgresUrl(
      'postgres://db/herald?sslmode=require&options=-c%20statement_timeout%3D5000&schema=s1',
    );

    assert.equal(t.options, '-c statement_timeout=5000 -c search_path=s1');
    assert.equal(t.connectionString, 'postgres://db/herald?sslmode=require');
  });

  it('without a schema leaves the search path to the server', () => {
    const t = parsePostgresUrl('postgresql://db/herald');

    assert.equal(t.schema, null);
    assert.equal(t.options, undefined);
  });

  it('refuses a schema that is not a plain identifier', () => {
    assert.throws(() => parsePostgresUrl('postgres://db/herald?schema=a;drop'), /plain identifier/);
  });
});
