import { Type, type Static, type TSchema } from 'typebox';
import { Value } from 'typebox/value';
import type { Channel } from '../channels/channel.js';
import { parseMailbox } from '../channels/email/email-headers.js';
import { SECRET_PREFIX } from '../webhooks/standard-webhooks.js';

/**
 * The kinds of provider an operator can configure, what each one's settings, secrets and
 * limits look like, and their validation. A configuration is checked as a whole (after a
 * PATCH is merged in), so what is stored is always usable.
 */

export const PROVIDER_KINDS = ['smtp', 'webhook'] as const;
export type ProviderKind = (typeof PROVIDER_KINDS)[number];

/** The channel each kind serves. */
export const KIND_CHANNEL: Readonly<Record<ProviderKind, Channel>> = {
  smtp: 'email',
  webhook: 'webhook',
};

export const SmtpSettingsSchema = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'smtp://host:port (STARTTLS when offered) or smtps://host:port, no credentials',
      examples: ['smtp://relay.example.edu.cn:587'],
    }),
    user: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
    from: Type.String({
      minLength: 1,
      maxLength: 512,
      description: 'Default sender: `Name <address>` or an address',
    }),
    replyTo: Type.Optional(Type.String({ minLength: 1, maxLength: 512 })),
    maxConnections: Type.Optional(Type.Integer({ minimum: 1, maximum: 50 })),
  },
  { additionalProperties: false },
);
export type SmtpSettings = Static<typeof SmtpSettingsSchema>;

export const SmtpSecretsSchema = Type.Object(
  { password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })) },
  { additionalProperties: false },
);
export type SmtpSecrets = Static<typeof SmtpSecretsSchema>;

export const WebhookSettingsSchema = Type.Object(
  {
    url: Type.String({
      minLength: 1,
      maxLength: 2048,
      description: 'http(s) URL every message is POSTed to',
      examples: ['https://app.example.edu.cn/herald/webhook'],
    }),
  },
  { additionalProperties: false },
);
export type WebhookSettings = Static<typeof WebhookSettingsSchema>;

export const WebhookSecretsSchema = Type.Object(
  {
    signingSecret: Type.Optional(
      Type.String({ maxLength: 200, description: 'whsec_ + base64 of 24–64 random bytes' }),
    ),
  },
  { additionalProperties: false },
);
export type WebhookSecrets = Static<typeof WebhookSecretsSchema>;

export const LimitsSchema = Type.Object(
  {
    ratePerSecond: Type.Optional(
      Type.Number({ exclusiveMinimum: 0, maximum: 10_000, description: 'Token bucket refill' }),
    ),
    burst: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 10_000,
        description: 'Bucket size (needs ratePerSecond)',
      }),
    ),
    concurrency: Type.Optional(
      Type.Integer({ minimum: 1, maximum: 1_000, description: 'Messages in flight at once' }),
    ),
    timeoutMs: Type.Optional(
      Type.Integer({ minimum: 50, maximum: 120_000, description: 'Longest a call may take' }),
    ),
    breaker: Type.Optional(
      Type.Object(
        {
          failures: Type.Integer({ minimum: 1, maximum: 1_000 }),
          coolDownMs: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
        },
        {
          additionalProperties: false,
          description: 'Open after `failures` consecutive transient failures, for `coolDownMs`',
        },
      ),
    ),
  },
  { additionalProperties: false },
);
export type ProviderLimits = Static<typeof LimitsSchema>;

const SCHEMAS: Readonly<Record<ProviderKind, { settings: TSchema; secrets: TSchema }>> = {
  smtp: { settings: SmtpSettingsSchema, secrets: SmtpSecretsSchema },
  webhook: { settings: WebhookSettingsSchema, secrets: WebhookSecretsSchema },
};

/** What applies when a limit is not configured. */
export const DEFAULT_BREAKER = { failures: 5, coolDownMs: 30_000 } as const;
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
export const DEFAULT_WEBHOOK_CONCURRENCY = 16;
export const DEFAULT_SMTP_CONNECTIONS = 5;

export interface EffectiveLimits {
  readonly ratePerSecond?: number;
  readonly burst?: number;
  readonly concurrency: number;
  readonly timeoutMs?: number;
  readonly breaker: { readonly failures: number; readonly coolDownMs: number };
}

/**
 * The limits a provider runs with: the configured ones over the kind's defaults. Concurrency
 * is always bounded — the guards cut time per call, and a call holds at most `concurrency`
 * messages, so `timeoutMs` bounds each message rather than a whole batch.
 */
export function effectiveLimits(
  kind: ProviderKind,
  settings: Readonly<Record<string, unknown>>,
  limits: ProviderLimits,
): EffectiveLimits {
  const concurrency =
    limits.concurrency ??
    (kind === 'webhook'
      ? DEFAULT_WEBHOOK_CONCURRENCY
      : ((settings.maxConnections as number | undefined) ?? DEFAULT_SMTP_CONNECTIONS));
  const timeoutMs =
    limits.timeoutMs ?? (kind === 'webhook' ? DEFAULT_WEBHOOK_TIMEOUT_MS : undefined);
  return {
    ...(limits.ratePerSecond !== undefined ? { ratePerSecond: limits.ratePerSecond } : {}),
    ...(limits.burst !== undefined ? { burst: limits.burst } : {}),
    concurrency,
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    breaker: limits.breaker ?? DEFAULT_BREAKER,
  };
}

export interface ValidationIssue {
  /** Like the API's validation errors: `body/settings/url`. */
  readonly path: string;
  readonly message: string;
}

/**
 * Every problem with one configuration, checked as a whole: each part's shape (no unknown
 * keys), then what a schema cannot say (URL schemes and credentials, the sender, which secret
 * goes with which setting). Never echoes a secret.
 */
export function validateProviderConfig(
  kind: ProviderKind,
  settings: unknown,
  secrets: unknown,
  limits: unknown,
): ValidationIssue[] {
  const issues = [
    ...shapeIssues(SCHEMAS[kind].settings, settings, 'body/settings'),
    ...shapeIssues(SCHEMAS[kind].secrets, secrets, 'body/secrets', true),
    ...shapeIssues(LimitsSchema, limits, 'body/limits'),
  ];
  if (issues.length > 0) return issues;
  const l = limits as ProviderLimits;
  if (l.burst !== undefined && l.ratePerSecond === undefined) {
    issues.push({ path: 'body/limits/burst', message: 'needs limits.ratePerSecond' });
  }
  if (kind === 'smtp') {
    issues.push(...smtpIssues(settings as SmtpSettings, secrets as SmtpSecrets));
  } else {
    issues.push(...webhookIssues(settings as WebhookSettings, secrets as WebhookSecrets));
  }
  return issues;
}

function smtpIssues(settings: SmtpSettings, secrets: SmtpSecrets): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const urlIssue = checkUrl(settings.url, ['smtp:', 'smtps:'], true);
  if (urlIssue) issues.push({ path: 'body/settings/url', message: urlIssue });
  for (const field of ['from', 'replyTo'] as const) {
    const value = settings[field];
    if (value === undefined) continue;
    try {
      parseMailbox(value);
    } catch (err) {
      issues.push({ path: `body/settings/${field}`, message: (err as Error).message });
    }
  }
  // eslint-disable-next-line no-control-regex
  if (settings.user !== undefined && /[\u0000-\u001f\u007f]/.test(settings.user)) {
    issues.push({ path: 'body/settings/user', message: 'must not contain control characters' });
  }
  if (secrets.password !== undefined && settings.user === undefined) {
    issues.push({ path: 'body/settings/user', message: 'is required with secrets.password' });
  }
  if (settings.user !== undefined && secrets.password === undefined) {
    issues.push({ path: 'body/secrets/password', message: 'is required with settings.user' });
  }
  return issues;
}

function webhookIssues(settings: WebhookSettings, secrets: WebhookSecrets): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  const urlIssue = checkUrl(settings.url, ['http:', 'https:'], false);
  if (urlIssue) issues.push({ path: 'body/settings/url', message: urlIssue });
  if (secrets.signingSecret === undefined) {
    issues.push({
      path: 'body/secrets/signingSecret',
      message: 'is required (leave it out when creating the provider to have one generated)',
    });
  } else if (!isSigningSecret(secrets.signingSecret)) {
    issues.push({
      path: 'body/secrets/signingSecret',
      message: `must be ${SECRET_PREFIX} followed by the base64 of 24 to 64 random bytes`,
    });
  }
  return issues;
}

/** `whsec_` + base64 of 24–64 bytes, as the Standard Webhooks specification asks. */
export function isSigningSecret(value: string): boolean {
  if (!value.startsWith(SECRET_PREFIX)) return false;
  const encoded = value.slice(SECRET_PREFIX.length);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) return false;
  const bytes = Buffer.from(encoded, 'base64').length;
  return bytes >= 24 && bytes <= 64;
}

/** A message when `value` is not a usable URL of these schemes; never echoes credentials. */
function checkUrl(value: string, schemes: readonly string[], hostOnly: boolean): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `must be a URL (${schemes.map((s) => `${s}//`).join(' or ')})`;
  }
  if (!schemes.includes(url.protocol)) {
    return `must use ${schemes.join(' or ')}, not ${url.protocol}`;
  }
  if (url.username !== '' || url.password !== '') {
    return hostOnly
      ? 'must not hold credentials: put the user in settings.user and the password in secrets.password'
      : 'must not hold credentials (user:password@)';
  }
  if (url.hostname === '') return 'must name a host';
  if (url.hash !== '') return 'must not have a #fragment';
  if (hostOnly && ((url.pathname !== '' && url.pathname !== '/') || url.search !== '')) {
    return 'must be only scheme, host and port (no path or query)';
  }
  return null;
}

function shapeIssues(
  schema: TSchema,
  value: unknown,
  base: string,
  secret = false,
): ValidationIssue[] {
  const issues: ValidationIssue[] = [];
  for (const e of Value.Errors(schema, value)) {
    if (e.keyword === 'boolean') continue; // repeated by the additionalProperties entry
    const extra = (e.params as { additionalProperties?: unknown }).additionalProperties;
    if (e.keyword === 'additionalProperties' && Array.isArray(extra)) {
      for (const key of extra) {
        issues.push({ path: `${base}${e.instancePath}/${String(key)}`, message: 'is not allowed' });
      }
      continue;
    }
    // A secret's own value never appears in a message (the schema messages do not echo it).
    issues.push({
      path: `${base}${e.instancePath}`,
      message: secret && e.keyword === 'pattern' ? 'has the wrong format' : e.message,
    });
  }
  return issues;
}
