import { parse as parseCsv } from 'csv-parse/sync';
import { hashPassword } from '../auth/secrets.js';
import { Problem } from '../http/problem.js';
import type { Db } from '../store/database.js';
import { upsertUsers, type UserInput } from './users-store.js';
import { mapLimit } from '../runtime/map-limit.js';
import { canonicalTimeZone } from '../time/time-zone.js';

export const MAX_IMPORT_ROWS = 50_000;
/** scrypt costs ~50 ms and 32 MiB per hash: a few at a time keep the event loop and memory sane. */
export const PASSWORD_HASH_CONCURRENCY = 4;

/** The fields of one user, as JSON properties or CSV columns. */
export const USER_FIELDS = [
  'externalId',
  'name',
  'roles',
  'orgPath',
  'attributes',
  'locale',
  'timezone',
  'email',
  'phone',
  'wechatOpenId',
  'wecomUserId',
  'dingtalkUserId',
  'feishuUserId',
  'password',
] as const;

export type ImportPayload =
  | { readonly format: 'json'; readonly body: unknown }
  | { readonly format: 'csv'; readonly text: string };

export interface FieldError {
  /** A field name, `attributes.<key>`, or `row` for the row as a whole. */
  readonly field: string;
  readonly message: string;
}

export interface RowResult {
  /** 1-based number of the data row (a JSON array index + 1; CSV rows after the header). */
  readonly row: number;
  readonly externalId: string | null;
  readonly status: 'created' | 'updated' | 'error';
  readonly errors?: FieldError[];
}

export interface ImportResult {
  readonly created: number;
  readonly updated: number;
  readonly failed: number;
  readonly results: RowResult[];
}

/** A user that passed validation; the password is still in clear text. */
export type ValidUser = Omit<UserInput, 'passwordHash'> & {
  readonly password?: string | undefined;
};

/**
 * Imports users from a JSON array or a CSV file (campus systems' bulk sync), upserting by
 * external id. Each row is validated on its own: the valid rows are imported (in one
 * transaction) even when others fail, and the result says, per row, created / updated /
 * error with the field errors. Only a payload that cannot be parsed at all (not a JSON array,
 * broken CSV, unknown or missing CSV columns) or that has more than 50,000 rows is rejected
 * as a whole, with a Problem.
 *
 * Omitted fields (a JSON property left out, a CSV column absent) keep the stored value;
 * null or an empty CSV cell clears it. Given roles and attributes replace the stored ones.
 */
export async function importUsers(
  db: Db,
  payload: ImportPayload,
  now: number,
): Promise<ImportResult> {
  const raws = payload.format === 'json' ? jsonRows(payload.body) : csvRows(payload.text);

  const results: (RowResult | null)[] = [];
  const valid: { index: number; user: ValidUser }[] = [];
  const firstRow = new Map<string, number>();
  raws.forEach((raw, index) => {
    const row = index + 1;
    const checked = raw.errors ? { errors: [...raw.errors] } : validateUser(raw.fields);
    const externalId =
      typeof raw.fields.externalId === 'string' ? raw.fields.externalId.trim() || null : null;
    const errors = 'errors' in checked ? checked.errors : [];
    if (externalId !== null) {
      const first = firstRow.get(externalId);
      if (first !== undefined)
        errors.push({ field: 'externalId', message: `duplicates row ${first}` });
      else firstRow.set(externalId, row);
    }
    if (errors.length > 0 || !('user' in checked)) {
      results.push({ row, externalId, status: 'error', errors });
    } else {
      results.push(null);
      valid.push({ index, user: checked.user });
    }
  });

  const hashes = await mapLimit(valid, PASSWORD_HASH_CONCURRENCY, async ({ user }) =>
    user.password === undefined ? undefined : hashPassword(user.password),
  );
  const inputs = valid.map(({ user }, i): UserInput => {
    const { password, ...rest } = user;
    return { ...rest, passwordHash: password === undefined ? undefined : hashes[i] };
  });
  const outcomes = await upsertUsers(db, inputs, now);
  valid.forEach(({ index, user }, i) => {
    results[index] = { row: index + 1, externalId: user.externalId, status: outcomes[i]! };
  });

  const final = results as RowResult[];
  return {
    created: final.filter((r) => r.status === 'created').length,
    updated: final.filter((r) => r.status === 'updated').length,
    failed: final.filter((r) => r.status === 'error').length,
    results: final,
  };
}

interface RawRow {
  readonly fields: Record<string, unknown>;
  /** Errors found while reading the row, before field validation (e.g. not an object). */
  readonly errors?: FieldError[];
}

function tooMany(n: number): Problem {
  return new Problem(
    'validation-failed',
    `An import holds at most ${MAX_IMPORT_ROWS} users, this one ${n > MAX_IMPORT_ROWS + 1 ? 'more' : n}; split it into several files`,
  );
}

function jsonRows(body: unknown): RawRow[] {
  if (!Array.isArray(body)) {
    throw new Problem(
      'validation-failed',
      'Send a JSON array of user objects (or text/csv with a header row)',
    );
  }
  if (body.length > MAX_IMPORT_ROWS) throw tooMany(body.length);
  return body.map((item: unknown): RawRow =>
    item !== null && typeof item === 'object' && !Array.isArray(item)
      ? { fields: item as Record<string, unknown> }
      : { fields: {}, errors: [{ field: 'row', message: 'must be a JSON object' }] },
  );
}

type Column =
  | { readonly kind: 'field'; readonly field: (typeof USER_FIELDS)[number] }
  | { readonly kind: 'attribute'; readonly key: string };

/** Maps header cells to fields: field names (any case), `attributes.<key>` or `attr.<key>`. */
function csvColumns(header: readonly string[]): Column[] {
  const byLower = new Map<string, (typeof USER_FIELDS)[number]>(
    USER_FIELDS.map((f) => [f.toLowerCase(), f]),
  );
  const unknown: string[] = [];
  const seen = new Set<string>();
  const columns = header.map((cell): Column => {
    const name = cell.trim();
    const attr = /^(?:attributes|attr)\.(.+)$/i.exec(name);
    const column: Column | undefined = attr
      ? { kind: 'attribute', key: attr[1]!.trim() }
      : byLower.has(name.toLowerCase()) && name.toLowerCase() !== 'attributes'
        ? { kind: 'field', field: byLower.get(name.toLowerCase())! }
        : undefined;
    if (!column) {
      unknown.push(name);
      return { kind: 'attribute', key: '' };
    }
    const id = column.kind === 'field' ? column.field : `attributes.${column.key}`;
    if (seen.has(id)) throw new Problem('validation-failed', `The CSV header names "${id}" twice`);
    seen.add(id);
    return column;
  });
  if (unknown.length > 0) {
    throw new Problem(
      'validation-failed',
      `Unknown CSV columns: ${unknown.map((u) => `"${u}"`).join(', ')}. Columns are ${USER_FIELDS.filter((f) => f !== 'attributes').join(', ')} and attributes.<key> (or attr.<key>)`,
      { unknownColumns: unknown },
    );
  }
  for (const required of ['externalId', 'name'] as const) {
    if (!seen.has(required))
      throw new Problem('validation-failed', `The CSV header has no "${required}" column`);
  }
  return columns;
}

function csvRows(text: string): RawRow[] {
  let records: string[][];
  try {
    records = parseCsv(text, {
      bom: true,
      skip_empty_lines: true,
      relax_column_count: true,
      // Stop reading once the file is known to be too big.
      to: MAX_IMPORT_ROWS + 2,
    });
  } catch (err) {
    throw new Problem(
      'validation-failed',
      `The CSV could not be parsed: ${err instanceof Error ? err.message : String(err)}`,
    );
  }
  const [header, ...data] = records;
  if (!header)
    throw new Problem(
      'validation-failed',
      'The CSV is empty; it needs a header row, e.g. "externalId,name,roles"',
    );
  if (data.length > MAX_IMPORT_ROWS) throw tooMany(data.length);
  const columns = csvColumns(header);
  const hasAttributes = columns.some((c) => c.kind === 'attribute');

  return data.map((cells): RawRow => {
    if (cells.length !== columns.length) {
      return {
        fields: {},
        errors: [
          { field: 'row', message: `has ${cells.length} cells, the header ${columns.length}` },
        ],
      };
    }
    const fields: Record<string, unknown> = {};
    const attributes: Record<string, string> = {};
    columns.forEach((column, i) => {
      const cell = cells[i]!;
      if (column.kind === 'attribute') {
        if (cell.trim() !== '') attributes[column.key] = cell.trim();
      } else if (column.field === 'roles') {
        fields.roles = cell
          .split(/[;|]/)
          .map((r) => r.trim())
          .filter((r) => r !== '');
      } else {
        // An empty cell clears the field (a missing column keeps it).
        fields[column.field] = cell === '' ? null : cell;
      }
    });
    if (hasAttributes) fields.attributes = attributes;
    return { fields };
  });
}

const EXTERNAL_ID = /^[A-Za-z0-9._-]{1,64}$/;
const ROLE = /^[\p{L}\p{N}._:-]{1,64}$/u;
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
/** E.164 (+ country code, up to 15 digits) or an 11-digit mainland China mobile number. */
const PHONE = /^(?:\+[1-9]\d{6,14}|1[3-9]\d{9})$/;
const LOCALE = /^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$/;

/**
 * Validates one user's fields (the shape of one JSON element). Strings are trimmed; an empty
 * string counts as null. Returns the normalised user or every field error found.
 */
export function validateUser(
  raw: Record<string, unknown>,
): { user: ValidUser } | { errors: FieldError[] } {
  const errors: FieldError[] = [];
  const fail = (field: string, message: string) => {
    errors.push({ field, message });
    return undefined;
  };

  for (const key of Object.keys(raw)) {
    if (!(USER_FIELDS as readonly string[]).includes(key)) {
      fail(key, `is not a user field (fields: ${USER_FIELDS.join(', ')})`);
    }
  }

  /** undefined → omitted, null → clear, string → trimmed (empty → null). */
  const text = (field: string, max: number): string | null | undefined => {
    const v = raw[field];
    if (v === undefined || v === null) return v;
    if (typeof v !== 'string') return fail(field, 'must be a string');
    const t = v.trim();
    if (t.length > max) return fail(field, `must be at most ${max} characters`);
    return t === '' ? null : t;
  };

  const externalId = text('externalId', 64);
  if (externalId === null || (externalId === undefined && raw.externalId === undefined)) {
    fail('externalId', 'is required');
  } else if (externalId !== undefined && !EXTERNAL_ID.test(externalId)) {
    fail('externalId', 'must be 1–64 characters of A–Z, a–z, 0–9, ".", "_" or "-"');
  }

  const name = text('name', 200);
  if (name === null || (name === undefined && raw.name === undefined)) fail('name', 'is required');

  let roles: string[] | undefined;
  if (raw.roles === null) roles = [];
  else if (raw.roles !== undefined) {
    if (!Array.isArray(raw.roles) || raw.roles.some((r) => typeof r !== 'string')) {
      fail('roles', 'must be an array of strings');
    } else {
      roles = [...new Set((raw.roles as string[]).map((r) => r.trim()).filter((r) => r !== ''))];
      const bad = roles.filter((r) => !ROLE.test(r));
      if (bad.length > 0)
        fail(
          'roles',
          `invalid role ${bad.map((b) => `"${b}"`).join(', ')}: letters, digits, ".", "_", ":" or "-", at most 64`,
        );
    }
  }

  let orgPath = text('orgPath', 500);
  if (typeof orgPath === 'string') {
    const segments = orgPath.split('/').map((s) => s.trim());
    if (segments.some((s) => s === ''))
      fail(
        'orgPath',
        'must be segments separated by "/", none empty (e.g. "农学院/作物学系/2024级1班")',
      );
    else orgPath = segments.join('/');
  }

  let attributes: Record<string, string> | null | undefined;
  if (raw.attributes === null) attributes = null;
  else if (raw.attributes !== undefined) {
    if (typeof raw.attributes !== 'object' || Array.isArray(raw.attributes)) {
      fail('attributes', 'must be an object of key → string value');
    } else {
      attributes = {};
      for (const [key, value] of Object.entries(raw.attributes as Record<string, unknown>)) {
        const field = `attributes.${key}`;
        if (key.trim() === '' || key.length > 64) fail(field, 'keys must be 1–64 characters');
        else if (
          typeof value === 'string' ||
          typeof value === 'number' ||
          typeof value === 'boolean'
        ) {
          const v = String(value).trim();
          if (v.length > 256) fail(field, 'must be at most 256 characters');
          else attributes[key.trim()] = v;
        } else fail(field, 'must be a string');
      }
    }
  }

  let locale = text('locale', 35);
  if (typeof locale === 'string') {
    const canonical = LOCALE.test(locale) ? canonicalLocale(locale.replace(/_/g, '-')) : null;
    if (canonical === null) fail('locale', 'must be a language tag such as "zh-CN" or "en"');
    else locale = canonical;
  }

  let timezone = text('timezone', 64);
  if (typeof timezone === 'string') {
    const canonical = canonicalTimeZone(timezone);
    if (canonical === null) fail('timezone', 'must be an IANA time zone such as "Asia/Shanghai"');
    else timezone = canonical;
  }

  const email = text('email', 254);
  if (typeof email === 'string' && !EMAIL.test(email)) fail('email', 'must be an email address');

  const phone = text('phone', 20);
  if (typeof phone === 'string' && !PHONE.test(phone)) {
    fail(
      'phone',
      'must be an E.164 number such as "+8613812345678" or an 11-digit mobile number such as "13812345678"',
    );
  }

  const wechatOpenId = text('wechatOpenId', 128);
  const wecomUserId = text('wecomUserId', 128);
  const dingtalkUserId = text('dingtalkUserId', 128);
  const feishuUserId = text('feishuUserId', 128);

  let password: string | undefined;
  const pw = raw.password;
  if (pw !== undefined && pw !== null && pw !== '') {
    if (typeof pw !== 'string') fail('password', 'must be a string');
    else if ([...pw].length < 8) fail('password', 'must be at least 8 characters');
    else if (pw.length > 256) fail('password', 'must be at most 256 characters');
    else password = pw;
  }

  if (errors.length > 0) return { errors };
  return {
    user: {
      externalId: externalId!,
      name: name!,
      roles,
      orgPath,
      attributes,
      locale,
      timezone,
      email,
      phone,
      wechatOpenId,
      wecomUserId,
      dingtalkUserId,
      feishuUserId,
      password,
    },
  };
}

function canonicalLocale(tag: string): string | null {
  try {
    return Intl.getCanonicalLocales(tag)[0] ?? null;
  } catch {
    return null;
  }
}
