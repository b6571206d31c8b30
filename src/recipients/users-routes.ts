import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { AuthGuards } from '../http/auth-guards.js';
import type { Server } from '../http/server-types.js';
import { notFound, Problem } from '../http/problem.js';
import {
  isoTimes,
  Page,
  ProblemSchema,
  problemResponses,
  TimestampSchema,
} from '../http/schemas.js';
import { hashPassword } from '../auth/secrets.js';
import { deleteUser, getUserByExternalId, listUsers, upsertUsers } from './users-store.js';
import { importUsers, MAX_IMPORT_ROWS, validateUser, type FieldError } from './users-import.js';

/** Imports are bulk syncs (up to 50,000 users): they get a body limit of their own. */
export const IMPORT_BODY_LIMIT_BYTES = 32 * 1024 * 1024;

const nullableString = (description: string, extra: Record<string, unknown> = {}) =>
  Type.Union([Type.String(extra), Type.Null()], { description });

export const UserSchema = Type.Object(
  {
    id: Type.String({ description: "Herald's internal id (UUIDv7)" }),
    externalId: Type.String({ description: 'Campus id: 学号 for students, 工号 for staff' }),
    name: Type.String(),
    roles: Type.Array(Type.String(), {
      description: 'e.g. undergraduate, postgraduate, teacher, staff',
    }),
    orgPath: Type.String({
      description: 'Organisation path, e.g. "农学院/作物学系/2024级1班" ("" when none)',
    }),
    attributes: Type.Record(Type.String(), Type.String(), {
      description: 'Free key → value pairs, e.g. grade, campus, dorm',
    }),
    locale: Type.String({ description: 'Preferred language, e.g. zh-CN or en' }),
    timezone: Type.String({ description: 'IANA time zone, e.g. Asia/Shanghai' }),
    email: nullableString('Email address'),
    phone: nullableString('Mobile number for SMS'),
    wechatOpenId: nullableString('WeChat official-account openid'),
    wecomUserId: nullableString('WeCom (企业微信) user id'),
    dingtalkUserId: nullableString('DingTalk user id'),
    feishuUserId: nullableString('Feishu user id'),
    hasPassword: Type.Boolean({
      description: 'Whether the user can log in to the message center with a password',
    }),
    createdAt: TimestampSchema,
    updatedAt: TimestampSchema,
  },
  { description: 'A recipient (the password hash is never shown)' },
);

/** A page of users; pass `nextCursor` as `cursor` for the next one. */
export const UserPageSchema = Page(UserSchema);

/** The writable fields; in PUT the external id comes from the path. */
const userFields = {
  name: Type.String({ description: 'Display name (required)' }),
  roles: Type.Optional(
    Type.Array(Type.String(), { description: 'Replaces the stored roles; omitted → kept' }),
  ),
  orgPath: Type.Optional(
    nullableString('Segments separated by "/", e.g. "农学院/作物学系/2024级1班"'),
  ),
  attributes: Type.Optional(
    Type.Union([Type.Record(Type.String(), Type.String()), Type.Null()], {
      description: 'Replaces the stored attributes; omitted → kept',
    }),
  ),
  locale: Type.Optional(nullableString('Language tag such as zh-CN or en; default zh-CN')),
  timezone: Type.Optional(nullableString('IANA time zone; default Asia/Shanghai')),
  email: Type.Optional(nullableString('Email address')),
  phone: Type.Optional(nullableString('E.164 (+8613812345678) or 11-digit mainland mobile number')),
  wechatOpenId: Type.Optional(nullableString('WeChat openid')),
  wecomUserId: Type.Optional(nullableString('WeCom user id')),
  dingtalkUserId: Type.Optional(nullableString('DingTalk user id')),
  feishuUserId: Type.Optional(nullableString('Feishu user id')),
  password: Type.Optional(
    Type.String({
      description: 'Message-center password, at least 8 characters; stored hashed; omitted → kept',
      writeOnly: true,
    }),
  ),
};

const ImportUserSchema = Type.Object(
  {
    externalId: Type.String({ description: '学号/工号: 1–64 of A–Z a–z 0–9 . _ -' }),
    ...userFields,
  },
  { description: 'One user; omitted fields keep their stored value, null clears' },
);

const RowResultSchema = Type.Object({
  row: Type.Integer({
    description: '1-based data row (JSON array index + 1, or CSV row after the header)',
  }),
  externalId: Type.Union([Type.String(), Type.Null()]),
  status: Type.Union([Type.Literal('created'), Type.Literal('updated'), Type.Literal('error')]),
  errors: Type.Optional(Type.Array(Type.Object({ field: Type.String(), message: Type.String() }))),
});

const ExternalIdParams = Type.Object({ externalId: Type.String({ description: '学号/工号' }) });

function fieldProblem(errors: readonly FieldError[]): Problem {
  const first = errors[0];
  return new Problem(
    'validation-failed',
    first ? `body/${first.field} ${first.message}` : undefined,
    {
      errors: errors.map((e) => ({ path: `body/${e.field}`, message: e.message })),
    },
  );
}

/** Admin routes over recipients: bulk import (JSON or CSV), list, read, upsert one, delete. */
export function usersRoutes(app: Server, deps: { db: Db; clock: Clock; guards: AuthGuards }): void {
  const { db, clock, guards } = deps;

  // Encapsulated so the text/csv parser applies to these routes only.
  app.register(async (scoped: Server) => {
    scoped.addContentTypeParser(
      'text/csv',
      { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT_BYTES },
      (_req, body, done) => done(null, body),
    );

    scoped.post(
      '/v1/users/import',
      {
        onRequest: guards.admin,
        bodyLimit: IMPORT_BODY_LIMIT_BYTES,
        // Rows are validated one by one by importUsers (a bad row must not reject the file);
        // the body schema below is for the OpenAPI description only.
        validatorCompiler: () => (data: unknown) => ({ value: data }),
        schema: {
          tags: ['users'],
          summary: 'Import users in bulk (upsert by externalId)',
          description:
            `Creates or updates up to ${MAX_IMPORT_ROWS} users from a JSON array or a CSV file with a header row ` +
            '(columns: the field names; roles separated by ";" or "|"; attributes as attributes.<key> or attr.<key>; UTF-8, BOM allowed). ' +
            'Each row is validated on its own: valid rows are imported even when others fail, and `results` reports every row. ' +
            'Omitted fields (or absent CSV columns) keep their stored value; null (or an empty cell) clears it.',
          body: {
            content: {
              'application/json': { schema: Type.Array(ImportUserSchema) },
              'text/csv': {
                schema: Type.String({
                  description:
                    'CSV, e.g. "externalId,name,roles,orgPath,attr.campus\\n2024010101,张三,undergraduate,农学院/作物学系/2024级1班,北校区"',
                }),
              },
            },
          },
          response: {
            200: Type.Object(
              {
                created: Type.Integer(),
                updated: Type.Integer(),
                failed: Type.Integer(),
                results: Type.Array(RowResultSchema),
              },
              { description: 'Per-row outcome' },
            ),
            ...problemResponses,
            413: ProblemSchema,
            415: ProblemSchema,
          },
        },
      },
      async (request) => {
        const body: unknown = request.body;
        const payload =
          typeof body === 'string'
            ? ({ format: 'csv', text: body } as const)
            : ({ format: 'json', body } as const);
        return importUsers(db, payload, clock());
      },
    );

    scoped.get(
      '/v1/users',
      {
        onRequest: guards.admin,
        schema: {
          tags: ['users'],
          summary: 'List users',
          description: 'Users in externalId order, keyset-paginated.',
          querystring: Type.Object({
            limit: Type.Integer({
              minimum: 1,
              maximum: 500,
              default: 50,
              description: 'Page size (≤ 500)',
            }),
            cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
            q: Type.Optional(
              Type.String({ maxLength: 100, description: 'Substring of the name or externalId' }),
            ),
            orgPrefix: Type.Optional(
              Type.String({ description: 'This org path or below, e.g. 农学院' }),
            ),
            role: Type.Optional(Type.String({ description: 'Users having this role' })),
          }),
          response: { 200: UserPageSchema, ...problemResponses },
        },
      },
      async (request) => {
        const { limit, cursor, q, orgPrefix, role } = request.query;
        const page = await listUsers(db, { limit, after: cursor, q, orgPrefix, role });
        return { ...page, items: page.items.map(isoTimes) };
      },
    );

    scoped.get(
      '/v1/users/:externalId',
      {
        onRequest: guards.admin,
        schema: {
          tags: ['users'],
          summary: 'Get a user',
          params: ExternalIdParams,
          response: { 200: UserSchema, ...problemResponses },
        },
      },
      async (request) => {
        const user = await getUserByExternalId(db, request.params.externalId);
        if (!user) throw notFound(`User "${request.params.externalId}"`);
        return isoTimes(user);
      },
    );

    scoped.put(
      '/v1/users/:externalId',
      {
        onRequest: guards.admin,
        schema: {
          tags: ['users'],
          summary: 'Create or update one user',
          description:
            'Same rules as one import row: omitted fields keep their stored value, null clears, roles and attributes are replaced when given.',
          params: ExternalIdParams,
          body: Type.Object(
            {
              externalId: Type.Optional(
                Type.String({ description: 'If given, must equal the path' }),
              ),
              ...userFields,
            },
            { additionalProperties: false },
          ),
          response: {
            200: { ...UserSchema, description: 'Updated' },
            201: { ...UserSchema, description: 'Created' },
            ...problemResponses,
          },
        },
      },
      async (request, reply) => {
        const { externalId } = request.params;
        if (request.body.externalId !== undefined && request.body.externalId !== externalId) {
          throw new Problem(
            'validation-failed',
            'body/externalId must equal the externalId in the path',
          );
        }
        const checked = validateUser({ ...request.body, externalId });
        if ('errors' in checked) throw fieldProblem(checked.errors);
        const { password, ...user } = checked.user;
        const passwordHash = password === undefined ? undefined : await hashPassword(password);
        const [outcome] = await upsertUsers(db, [{ ...user, passwordHash }], clock());
        const stored = await getUserByExternalId(db, externalId);
        return reply.code(outcome === 'created' ? 201 : 200).send(isoTimes(stored!));
      },
    );

    scoped.delete(
      '/v1/users/:externalId',
      {
        onRequest: guards.admin,
        schema: {
          tags: ['users'],
          summary: 'Delete a user',
          description:
            'Removes the user with their roles, attributes, group memberships, preferences and sessions.',
          params: ExternalIdParams,
          response: { 204: Type.Null({ description: 'Deleted' }), ...problemResponses },
        },
      },
      async (request, reply) => {
        if (!(await deleteUser(db, request.params.externalId)))
          throw notFound(`User "${request.params.externalId}"`);
        return reply.code(204).send(null);
      },
    );
  });
}
