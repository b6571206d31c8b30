/** What Herald reads from `HERALD_DATABASE_URL` beyond what `pg` reads itself. */
export interface PostgresTarget {
  /** The URL for `pg`, without Herald's own parameters. */
  readonly connectionString: string;
  /** `?schema=name`: Herald's tables live in (and are created in) this schema. */
  readonly schema: string | null;
  /** Server options for every connection (`-c search_path=…` when a schema is named). */
  readonly options: string | undefined;
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

/**
 * Splits Herald's `schema` parameter off a postgres:// URL. With it, every connection starts
 * with `search_path` set to that schema, so several Herald installations (or test runs) can
 * share one database. An `options` parameter in the URL is kept and the search path appended.
 */
export function parsePostgresUrl(url: string): PostgresTarget {
  const u = new URL(url);
  const schema = u.searchParams.get('schema');
  u.searchParams.delete('schema');
  if (schema !== null && !IDENTIFIER.test(schema)) {
    throw new Error(
      `the schema in HERALD_DATABASE_URL must be a plain identifier (letters, digits, _), got "${schema}"`,
    );
  }
  const given = u.searchParams.get('options') ?? undefined;
  u.searchParams.delete('options');
  const parts = [given, schema ? `-c search_path=${schema}` : undefined].filter(Boolean);
  return {
    connectionString: u.toString(),
    schema,
    options: parts.length > 0 ? parts.join(' ') : undefined,
  };
}
