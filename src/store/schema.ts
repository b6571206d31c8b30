/**
 * The database as Kysely sees it. One schema for SQLite and PostgreSQL: ids are text (UUIDv7),
 * times are epoch milliseconds in integer columns, JSON is stored as text and parsed in the
 * store (the dialect object is where a backend may do better).
 */
import type { Generated } from 'kysely';

export type Priority = 'urgent' | 'normal' | 'bulk';

export type DeliveryStatus = 'queued' | 'sent' | 'delivered' | 'failed' | 'dead' | 'suppressed';

export interface UsersTable {
  id: string;
  external_id: string;
  name: string;
  org_path: string;
  /** JSON object of string → string. */
  attributes: string;
  locale: string;
  timezone: string;
  email: string | null;
  phone: string | null;
  wechat_open_id: string | null;
  wecom_user_id: string | null;
  dingtalk_user_id: string | null;
  feishu_user_id: string | null;
  password_hash: string | null;
  /** Last inbox sequence number handed out to this user (SSE event ids). */
  inbox_seq: Generated<number>;
  created_at: number;
  updated_at: number;
}

export interface UserRolesTable {
  user_id: string;
  role: string;
}

export interface UserAttributesTable {
  user_id: string;
  key: string;
  value: string;
}

export interface GroupsTable {
  id: string;
  key: string;
  name: string;
  /** JSON AudienceFilter, null for a static group. */
  filter: string | null;
  created_at: number;
  updated_at: number;
}

export interface GroupMembersTable {
  group_id: string;
  user_id: string;
}

export interface SourcesTable {
  id: string;
  key: string;
  name: string;
  /** JSON array of category keys this source may send. */
  categories: string;
  /** Where delivery status events are POSTed (Standard Webhooks); null → none. */
  callback_url: string | null;
  /** `whsec_…` signing secret of the callbacks; write-only through the API. */
  callback_secret: string | null;
  /** JSON array of event types to send; null → all. */
  callback_events: string | null;
  /** JSON object channel → deliveries allowed per day. */
  quotas: string;
  /** Sender of this source's email (overrides the category's and HERALD_SMTP_FROM). */
  email_from: string | null;
  email_reply_to: string | null;
  /** RabbitMQ user whose broker-validated `user_id` names this source (AMQP ingress). */
  amqp_user: string | null;
  created_at: number;
  updated_at: number;
}

export interface ApiKeysTable {
  id: string;
  source_id: string;
  /** Public, non-secret part of the key, used to find the row. */
  prefix: string;
  /** sha256 of the whole key (keys are 256-bit random, so a fast hash is enough). */
  hash: string;
  created_at: number;
  revoked_at: number | null;
  last_used_at: number | null;
}

export interface CategoriesTable {
  key: string;
  /** JSON object locale → display name. */
  name: string;
  priority: Priority;
  mandatory: number;
  /** JSON array of channels. */
  default_channels: string;
  max_attempts: number;
  /** JSON object channel → channel tried instead when the first has no address or fails for good. */
  channel_fallbacks: string;
  email_from: string | null;
  email_reply_to: string | null;
  created_at: number;
  updated_at: number;
}

export interface TemplatesTable {
  id: string;
  category_key: string;
  channel: string;
  locale: string;
  version: number;
  subject: string | null;
  title: string | null;
  body: string;
  created_at: number;
  /** Who stored this version (migration 006), as `messages.sent_by`; null when unknown. */
  created_by?: string | null;
}

export interface MessagesTable {
  id: string;
  source_id: string;
  category_key: string;
  priority: Priority;
  /** JSON Audience as sent. */
  audience: string;
  /** JSON template data as sent. */
  data: string;
  /** JSON array of channels, null → category defaults. */
  channels: string | null;
  locale: string | null;
  send_at: number;
  /** scheduled → accepted → fanning_out → dispatched. */
  status: string;
  /** Last user id the fan-out finished (users are streamed in id order). */
  fanout_cursor: string | null;
  recipient_count: number;
  idempotency_key: string | null;
  created_at: number;
  updated_at: number;
  /**
   * Who sent it from the console (migration 006): `operator:<external id>` or `admin-token`;
   * null (or absent on insert) when the source itself sent it.
   */
  sent_by?: string | null;
}

export interface IdempotencyKeysTable {
  source_id: string;
  key: string;
  request_hash: string;
  /** 'processing' while the first request runs, 'done' once its response is stored. */
  state: string;
  response_status: number | null;
  response_body: string | null;
  created_at: number;
  expires_at: number;
}

export interface DeliveriesTable {
  id: string;
  message_id: string;
  user_id: string;
  channel: string;
  status: DeliveryStatus;
  reason: string | null;
  locale: string;
  attempts: number;
  last_error: string | null;
  provider: string | null;
  provider_message_id: string | null;
  created_at: number;
  updated_at: number;
  final_at: number | null;
  /** The channel this delivery replaces (channel fallback); null for a planned one. */
  fallback_from: string | null;
}

export interface DeliveryAttemptsTable {
  id: string;
  delivery_id: string;
  attempt: number;
  provider: string;
  outcome: string;
  error: string | null;
  started_at: number;
  finished_at: number;
}

export interface InboxItemsTable {
  id: string;
  user_id: string;
  seq: number;
  message_id: string;
  delivery_id: string;
  category_key: string;
  source_key: string;
  source_name: string;
  title: string;
  body: string;
  url: string | null;
  created_at: number;
  read_at: number | null;
}

export interface PreferencesTable {
  user_id: string;
  category_key: string;
  enabled: number;
  /** JSON array of channels, null → category defaults. */
  channels: string | null;
  updated_at: number;
}

export interface DeadLettersTable {
  id: string;
  delivery_id: string;
  message_id: string;
  channel: string;
  reason: string;
  created_at: number;
  redriven_at: number | null;
}

export interface SandboxOutboxTable {
  id: string;
  delivery_id: string;
  message_id: string;
  channel: string;
  recipient: string;
  /** JSON of the exact rendered payload the provider would have received. */
  payload: string;
  created_at: number;
}

export interface SessionsTable {
  /** sha256 of the session token. */
  token_hash: string;
  user_id: string;
  created_at: number;
  expires_at: number;
}

export interface SettingsTable {
  key: string;
  value: string;
}

/** The embedded queue's live jobs (one row per job until acked or dead-lettered). */
export interface QueueJobsTable {
  id: Generated<number>;
  topic: string;
  lane: Priority;
  lane_rank: number;
  payload: string;
  /** How many times the job was leased. */
  deliveries: number;
  max_deliveries: number;
  /** A job is leasable when available_at <= now; a lease pushes it forward (visibility). */
  available_at: number;
  lease_token: string | null;
  last_error: string | null;
  created_at: number;
}

/**
 * The RabbitMQ queue's transactional outbox: jobs written in the caller's transaction, waiting
 * for the relay to publish them (migration 004).
 */
export interface BrokerOutboxTable {
  id: Generated<number>;
  /** The job's id when it already has one (a retry); else the job's id is `id`. */
  job_id: number | null;
  topic: string;
  lane: Priority;
  payload: string;
  available_at: number;
  max_deliveries: number;
  /** Leases the job had before this publication. */
  deliveries: number;
  last_error: string | null;
  created_at: number;
  claim_token: string | null;
  claimed_until: number | null;
}

export interface QueueDeadJobsTable {
  id: number;
  topic: string;
  lane: Priority;
  payload: string;
  deliveries: number;
  reason: string;
  created_at: number;
  dead_at: number;
}

export interface ProviderConfigsTable {
  id: string;
  /** Unique, shown on deliveries and metrics, e.g. `smtp-primary`. */
  name: string;
  channel: string;
  /** Which implementation: `smtp`, `webhook`, … */
  kind: string;
  /** Lower is preferred. */
  priority: number;
  weight: number;
  enabled: number;
  /** JSON object of the kind's non-secret settings (URL, sender …). */
  settings: string;
  /** JSON object of secrets (passwords, signing keys): never returned by the API, never logged. */
  secrets: string;
  /** JSON: { ratePerSecond?, burst?, concurrency?, timeoutMs?, breaker?: { failures, coolDownMs } }. */
  limits: string;
  created_at: number;
  updated_at: number;
}

/** Deliveries charged against a source's daily quota on a channel (day in HERALD_TIMEZONE). */
export interface QuotaUsageTable {
  source_id: string;
  channel: string;
  /** `YYYY-MM-DD`. */
  day: string;
  used: number;
}

export interface Database {
  users: UsersTable;
  user_roles: UserRolesTable;
  user_attributes: UserAttributesTable;
  groups: GroupsTable;
  group_members: GroupMembersTable;
  sources: SourcesTable;
  api_keys: ApiKeysTable;
  categories: CategoriesTable;
  templates: TemplatesTable;
  messages: MessagesTable;
  idempotency_keys: IdempotencyKeysTable;
  deliveries: DeliveriesTable;
  delivery_attempts: DeliveryAttemptsTable;
  inbox_items: InboxItemsTable;
  preferences: PreferencesTable;
  dead_letters: DeadLettersTable;
  sandbox_outbox: SandboxOutboxTable;
  sessions: SessionsTable;
  settings: SettingsTable;
  queue_jobs: QueueJobsTable;
  queue_dead_jobs: QueueDeadJobsTable;
  broker_outbox: BrokerOutboxTable;
  provider_configs: ProviderConfigsTable;
  quota_usage: QuotaUsageTable;
}
