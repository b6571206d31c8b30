import { isIP } from 'node:net';

/**
 * All of Herald's settings, read once from `HERALD_*` environment variables at the edge and
 * handed to the rest of the code as one frozen, typed object. Nothing else reads process.env.
 */

export interface Config {
  readonly port: number;
  readonly host: string;
  /**
   * Port of the operations endpoint (/healthz, /readyz, /metrics) of the `worker` and
   * `scheduler` roles, on `host`; null: they serve none. `api` and `all` serve these on `port`.
   */
  readonly opsPort: number | null;
  readonly dataDir: string;
  /** Empty → SQLite in `dataDir`; `postgres://…` → PostgreSQL (scale-out issue). */
  readonly databaseUrl: string;
  /** PostgreSQL: most connections each pool opens (the API and worker thread have one each). */
  readonly databasePoolSize: number;
  /** PostgreSQL: the server cancels a statement running longer than this. */
  readonly databaseStatementTimeoutMs: number;
  /** Empty → embedded queue; `amqp://…` → RabbitMQ (scale-out issue). */
  readonly brokerUrl: string;
  /** RabbitMQ: every exchange and queue of the job queue is named `<prefix>.…`. */
  readonly brokerPrefix: string;
  /** RabbitMQ: unacked deliveries per lane queue consumer (docs/scale-out.md). */
  readonly brokerPrefetch: number;
  /**
   * RabbitMQ: how long outbox rows a relay claimed stay its own when nothing shows that it
   * died (SQLite; on PostgreSQL a holder whose session lingers). docs/scale-out.md.
   */
  readonly brokerOutboxClaimSeconds: number;
  /** With a broker: `api`/`all` processes consume the AMQP ingress (docs/amqp-ingress.md). */
  readonly amqpIngress: boolean;
  /** Empty → generated on first start, stored (hashed) and printed once. */
  readonly adminToken: string;
  readonly demo: boolean;
  readonly sandbox: boolean;
  readonly smtpUrl: string;
  readonly smtpFrom: string;
  readonly logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Base URL people use to reach Herald (links in emails, the banner); empty → the bound address. */
  readonly publicUrl: string;
  /** Whether X-Forwarded-* headers come from a trusted reverse proxy. */
  readonly trustProxy: boolean;
  readonly bodyLimitBytes: number;
  readonly workerConcurrency: number;
  readonly workerThread: boolean;
  readonly leaseSeconds: number;
  readonly sessionTtlHours: number;
  readonly sseHeartbeatSeconds: number;
  /**
   * Networks outbound HTTP (webhooks, status callbacks) may reach although they are internal
   * (loopback, private …). Empty by default: only public addresses on ports 80/443.
   */
  readonly outboundAllowCidrs: readonly string[];
  /** The campus timezone: the day of daily quotas. */
  readonly timezone: string;
  /** Delivery retry backoff: the first wait, doubling per attempt up to the cap (with jitter). */
  readonly retryBaseMs: number;
  readonly retryCapMs: number;
  /** Status callback retry backoff (see docs/callbacks.md). */
  readonly callbackRetryBaseMs: number;
  readonly callbackRetryCapMs: number;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type Env = Readonly<Record<string, string | undefined>>;

interface Spec<T> {
  readonly doc: string;
  readonly parse: (raw: string | undefined, env: Env) => T;
}

function str(def: string, doc: string): Spec<string> {
  return { doc, parse: (raw) => raw?.trim() || def };
}

function int(def: number, min: number, max: number, doc: string): Spec<number> {
  return {
    doc,
    parse: (raw) => {
      if (raw === undefined || raw.trim() === '') return def;
      if (!/^\d+$/.test(raw.trim())) throw new Error(`must be a whole number, got "${raw}"`);
      const n = Number(raw);
      if (n < min || n > max) throw new Error(`must be between ${min} and ${max}, got ${n}`);
      return n;
    },
  };
}

function parseBool(raw: string): boolean {
  const v = raw.trim().toLowerCase();
  if (['1', 'true', 'yes', 'on'].includes(v)) return true;
  if (['0', 'false', 'no', 'off'].includes(v)) return false;
  throw new Error(`must be true or false, got "${raw}"`);
}

function bool(def: boolean | ((env: Env) => boolean), doc: string): Spec<boolean> {
  return {
    doc,
    parse: (raw, env) => {
      if (raw === undefined || raw.trim() === '') return typeof def === 'function' ? def(env) : def;
      return parseBool(raw);
    },
  };
}

function url(protocols: readonly string[], doc: string): Spec<string> {
  return {
    doc,
    parse: (raw) => {
      const v = (raw ?? '').trim();
      if (v === '') return '';
      let u: URL;
      try {
        u = new URL(v);
      } catch {
        throw new Error(`must be a URL (${protocols.join(', ')}), got "${redact(v)}"`);
      }
      if (!protocols.includes(u.protocol)) {
        throw new Error(`must use ${protocols.join(' or ')}, got "${u.protocol}"`);
      }
      return v;
    },
  };
}

/** Never echo credentials from a URL in an error message. */
function redact(v: string): string {
  return v.replace(/\/\/[^@/]*@/, '//***@');
}

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export const CONFIG_SPEC = {
  HERALD_PORT: int(8080, 0, 65535, 'HTTP port (0 picks a free port).'),
  HERALD_HOST: str('0.0.0.0', 'Address the HTTP server binds to.'),
  HERALD_OPS_PORT: {
    doc: '`herald worker` and `herald scheduler`: port of their /healthz, /readyz and /metrics on HERALD_HOST (0 picks a free port). Empty: none (api and all serve them on HERALD_PORT).',
    parse: (raw: string | undefined) => {
      if (raw === undefined || raw.trim() === '') return null;
      return int(0, 0, 65535, '').parse(raw, {});
    },
  } satisfies Spec<number | null>,
  HERALD_DATA_DIR: str('./data', 'Folder for the SQLite database (herald.db and its WAL files).'),
  HERALD_DATABASE_URL: url(
    ['postgres:', 'postgresql:'],
    'Empty: SQLite in HERALD_DATA_DIR. postgres://… selects PostgreSQL (?schema=name: tables in that schema; see docs/scale-out.md).',
  ),
  HERALD_DATABASE_POOL_SIZE: int(
    10,
    1,
    1000,
    'PostgreSQL: most connections per pool (one pool per process, a second for the worker thread of `herald all`).',
  ),
  HERALD_DATABASE_STATEMENT_TIMEOUT_MS: int(
    30_000,
    100,
    3_600_000,
    'PostgreSQL: statements running longer are cancelled (the request gets a 503, a job is retried).',
  ),
  HERALD_BROKER_URL: url(
    ['amqp:', 'amqps:'],
    'Empty: the embedded durable queue. amqp://… selects RabbitMQ.',
  ),
  HERALD_BROKER_PREFIX: {
    doc: "RabbitMQ: the job queue's exchanges and queues are named <prefix>.… (letters, digits, _ . -).",
    parse: (raw: string | undefined) => {
      const v = (raw ?? '').trim() || 'herald';
      if (!/^[A-Za-z0-9_.-]{1,100}$/.test(v)) throw new Error('use letters, digits, _ . - only');
      return v;
    },
  } satisfies Spec<string>,
  HERALD_BROKER_PREFETCH: int(
    32,
    1,
    10_000,
    'RabbitMQ: unacknowledged jobs a worker holds per topic and lane queue (see docs/scale-out.md).',
  ),
  HERALD_BROKER_OUTBOX_CLAIM_SECONDS: int(
    30,
    // Twice the 10 s a publication may take (the broker's confirms): a claim must outlast it.
    20,
    3600,
    'RabbitMQ: outbox rows a process claimed to publish wait this long for another process when it dies unseen (at least 20: twice the 10 s a publication may take; on PostgreSQL a killed process is seen at once; see docs/scale-out.md).',
  ),
  HERALD_AMQP_INGRESS: bool(
    true,
    'With HERALD_BROKER_URL: api and all processes take messages from the AMQP exchange herald.ingress (false: HTTP only).',
  ),
  HERALD_ADMIN_TOKEN: {
    doc: 'Admin API token. Empty: generated on first start, stored hashed, printed once.',
    parse: (raw: string | undefined) => {
      const v = (raw ?? '').trim();
      if (v !== '' && v.length < 16) throw new Error('must be at least 16 characters long');
      return v;
    },
  } satisfies Spec<string>,
  HERALD_DEMO: bool(false, 'Seed a demo university on first start with an empty database.'),
  HERALD_SANDBOX: bool(
    (env) => parseBool(env.HERALD_DEMO?.trim() || 'false'),
    'Send channels without real configuration to the sandbox outbox (default: HERALD_DEMO).',
  ),
  HERALD_SMTP_URL: url(['smtp:', 'smtps:'], 'SMTP relay for the email channel (later issue).'),
  HERALD_SMTP_FROM: str('', 'From address for email, e.g. "Herald <noreply@example.edu>".'),
  HERALD_LOG_LEVEL: {
    doc: `Log level: ${LOG_LEVELS.join(', ')}.`,
    parse: (raw: string | undefined) => {
      const v = (raw ?? 'info').trim() || 'info';
      if (!(LOG_LEVELS as readonly string[]).includes(v)) {
        throw new Error(`must be one of ${LOG_LEVELS.join(', ')}, got "${v}"`);
      }
      return v as Config['logLevel'];
    },
  } satisfies Spec<Config['logLevel']>,
  HERALD_TRUST_PROXY: bool(
    false,
    'Trust X-Forwarded-For (client addresses for login throttling): only behind a reverse proxy.',
  ),
  HERALD_PUBLIC_URL: url(
    ['http:', 'https:'],
    'Public base URL, e.g. https://msg.example.edu.cn (default: the address Herald listens on).',
  ),
  HERALD_BODY_LIMIT_BYTES: int(262144, 1024, 10485760, 'Largest accepted request body.'),
  HERALD_WORKER_CONCURRENCY: int(
    32,
    1,
    1000,
    'Delivery jobs (up to 100 deliveries each) a worker leases and sends at once.',
  ),
  HERALD_WORKER_THREAD: bool(
    true,
    'In `herald all`, run fan-out and delivery in a worker thread (a second core); false: on the API thread.',
  ),
  HERALD_LEASE_SECONDS: int(
    30,
    1,
    86400,
    'Visibility timeout of a leased job: after a crash, its work is retried this much later.',
  ),
  HERALD_SESSION_TTL_HOURS: int(12, 1, 8760, 'Lifetime of an end-user session.'),
  HERALD_SSE_HEARTBEAT_SECONDS: int(15, 1, 3600, 'Interval of SSE heartbeat comments.'),
  HERALD_OUTBOUND_ALLOW_CIDRS: {
    doc: 'Comma-separated internal networks webhooks may reach, e.g. 10.20.0.0/16 (default: none; loopback 127.0.0.0/8 only for tests).',
    parse: (raw: string | undefined) => {
      const list = (raw ?? '')
        .split(',')
        .map((v) => v.trim())
        .filter((v) => v !== '');
      for (const cidr of list) {
        const [address, bits, extra] = cidr.split('/');
        const version = isIP(address ?? '');
        const max = version === 4 ? 32 : 128;
        if (
          version === 0 ||
          extra !== undefined ||
          !/^\d+$/.test(bits ?? '') ||
          Number(bits) > max
        ) {
          throw new Error(`must be networks like 10.0.0.0/8 or fd00::/8, got "${cidr}"`);
        }
      }
      return Object.freeze(list);
    },
  } satisfies Spec<readonly string[]>,
  HERALD_RETRY_BASE_MS: int(
    2000,
    10,
    3_600_000,
    'First wait before a delivery is retried after a transient failure; doubles per attempt.',
  ),
  HERALD_RETRY_CAP_MS: int(
    900_000,
    10,
    86_400_000,
    'Longest wait between two attempts of a delivery (a provider Retry-After may ask for more).',
  ),
  HERALD_CALLBACK_RETRY_BASE_MS: int(
    60_000,
    10,
    3_600_000,
    'First wait before a status callback event is sent again after a failure; doubles per attempt.',
  ),
  HERALD_CALLBACK_RETRY_CAP_MS: int(
    21_600_000,
    10,
    86_400_000,
    'Longest wait between two attempts of a status callback event (a Retry-After may ask for more).',
  ),
  HERALD_TIMEZONE: {
    doc: 'The campus timezone (IANA name): daily quotas reset at its midnight.',
    parse: (raw: string | undefined) => {
      const v = (raw ?? '').trim() || 'Asia/Shanghai';
      try {
        new Intl.DateTimeFormat('en', { timeZone: v });
      } catch {
        throw new Error(`must be an IANA timezone like Asia/Shanghai, got "${v}"`);
      }
      return v;
    },
  } satisfies Spec<string>,
} as const;

export function loadConfig(env: Env = process.env): Config {
  const problems: string[] = [];
  const values: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(CONFIG_SPEC) as [string, Spec<unknown>][]) {
    try {
      values[name] = spec.parse(env[name], env);
    } catch (err) {
      problems.push(`${name} ${(err as Error).message}`);
    }
  }
  for (const name of Object.keys(env)) {
    if (name.startsWith('HERALD_') && !(name in CONFIG_SPEC)) {
      problems.push(`${name} is not a Herald setting (see .env.example for the list)`);
    }
  }
  if (problems.length > 0) {
    throw new ConfigError(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  const port = values.HERALD_PORT as number;
  return Object.freeze({
    port,
    host: values.HERALD_HOST as string,
    opsPort: values.HERALD_OPS_PORT as number | null,
    dataDir: values.HERALD_DATA_DIR as string,
    databaseUrl: values.HERALD_DATABASE_URL as string,
    databasePoolSize: values.HERALD_DATABASE_POOL_SIZE as number,
    databaseStatementTimeoutMs: values.HERALD_DATABASE_STATEMENT_TIMEOUT_MS as number,
    brokerUrl: values.HERALD_BROKER_URL as string,
    brokerPrefix: values.HERALD_BROKER_PREFIX as string,
    brokerPrefetch: values.HERALD_BROKER_PREFETCH as number,
    brokerOutboxClaimSeconds: values.HERALD_BROKER_OUTBOX_CLAIM_SECONDS as number,
    amqpIngress: values.HERALD_AMQP_INGRESS as boolean,
    adminToken: values.HERALD_ADMIN_TOKEN as string,
    demo: values.HERALD_DEMO as boolean,
    sandbox: values.HERALD_SANDBOX as boolean,
    smtpUrl: values.HERALD_SMTP_URL as string,
    smtpFrom: values.HERALD_SMTP_FROM as string,
    logLevel: values.HERALD_LOG_LEVEL as Config['logLevel'],
    publicUrl: values.HERALD_PUBLIC_URL as string,
    trustProxy: values.HERALD_TRUST_PROXY as boolean,
    bodyLimitBytes: values.HERALD_BODY_LIMIT_BYTES as number,
    workerConcurrency: values.HERALD_WORKER_CONCURRENCY as number,
    workerThread: values.HERALD_WORKER_THREAD as boolean,
    leaseSeconds: values.HERALD_LEASE_SECONDS as number,
    sessionTtlHours: values.HERALD_SESSION_TTL_HOURS as number,
    sseHeartbeatSeconds: values.HERALD_SSE_HEARTBEAT_SECONDS as number,
    outboundAllowCidrs: values.HERALD_OUTBOUND_ALLOW_CIDRS as readonly string[],
    timezone: values.HERALD_TIMEZONE as string,
    retryBaseMs: values.HERALD_RETRY_BASE_MS as number,
    retryCapMs: values.HERALD_RETRY_CAP_MS as number,
    callbackRetryBaseMs: values.HERALD_CALLBACK_RETRY_BASE_MS as number,
    callbackRetryCapMs: values.HERALD_CALLBACK_RETRY_CAP_MS as number,
  });
}

/** The `.env.example` text, generated from the spec so the two cannot drift. */
export function envExample(): string {
  return Object.entries(CONFIG_SPEC)
    .map(([name, spec]) => `# ${spec.doc}\n${name}=`)
    .join('\n\n');
}
