import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { AuthGuards } from '../http/auth-guards.js';
import type { Server } from '../http/server-types.js';
import { ProblemSchema, problemResponses } from '../http/schemas.js';
import { Problem } from '../http/problem.js';
import { importGroups } from './groups-import.js';
import { MAX_IMPORT_ROWS } from './users-import.js';
import { IMPORT_BODY_LIMIT_BYTES } from './users-routes.js';

const ErrorsSchema = Type.Array(Type.Object({ field: Type.String(), message: Type.String() }));

/** `POST /v1/groups/import`: static group memberships (class rosters) in bulk. */
export function groupsImportRoutes(
  app: Server,
  deps: { db: Db; clock: Clock; guards: AuthGuards },
): void {
  const { db, clock, guards } = deps;
  // Encapsulated so the text/csv parser applies to this route only.
  app.register(async (scoped: Server) => {
    scoped.addContentTypeParser(
      'text/csv',
      { parseAs: 'string', bodyLimit: IMPORT_BODY_LIMIT_BYTES },
      (_req, body, done) => done(null, body),
    );
    scoped.post(
      '/v1/groups/import',
      {
        onRequest: guards.admin,
        bodyLimit: IMPORT_BODY_LIMIT_BYTES,
        // Rows are checked one by one (a bad row must not reject the file); the body schema
        // below describes the payload for OpenAPI only.
        validatorCompiler: () => (data: unknown) => ({ value: data }),
        schema: {
          tags: ['groups'],
          summary: 'Import static group memberships in bulk (class rosters)',
          description:
            `Up to ${MAX_IMPORT_ROWS} memberships, one per row: a JSON array of {group, member, name?} or a CSV with the columns group, member and optionally name (UTF-8, BOM allowed). ` +
            "`mode=replace` (default) makes each named group's members exactly its valid rows; `mode=add` only adds. Missing groups are created (static); a dynamic group cannot be imported into. Valid rows are imported even when others fail; `results` reports every row, `groups` every group changed.",
          querystring: Type.Object({
            mode: Type.Union([Type.Literal('replace'), Type.Literal('add')], {
              default: 'replace',
            }),
          }),
          body: {
            content: {
              'application/json': {
                schema: Type.Array(
                  Type.Object({
                    group: Type.String({ description: 'Group key' }),
                    member: Type.String({ description: 'External id of the member' }),
                    name: Type.Optional(
                      Type.String({ description: 'Group name (creates or renames)' }),
                    ),
                  }),
                ),
              },
              'text/csv': {
                schema: Type.String({
                  description:
                    'CSV, e.g. "group,member,name\\nclass-2024-agronomy-1,2024010101,农学院作物学系2024级1班"',
                }),
              },
            },
          },
          response: {
            200: Type.Object({
              imported: Type.Integer({ description: 'Rows imported' }),
              failed: Type.Integer({ description: 'Rows refused' }),
              groups: Type.Array(
                Type.Object({
                  key: Type.String(),
                  status: Type.Union([
                    Type.Literal('created'),
                    Type.Literal('replaced'),
                    Type.Literal('extended'),
                  ]),
                  members: Type.Integer({ description: 'Members after the import' }),
                }),
              ),
              results: Type.Array(
                Type.Object({
                  row: Type.Integer({ description: '1-based data row' }),
                  group: Type.Union([Type.String(), Type.Null()]),
                  member: Type.Union([Type.String(), Type.Null()]),
                  status: Type.Union([Type.Literal('ok'), Type.Literal('error')]),
                  errors: Type.Optional(ErrorsSchema),
                }),
              ),
            }),
            ...problemResponses,
            409: ProblemSchema,
            413: ProblemSchema,
            415: ProblemSchema,
          },
        },
      },
      async (request) => {
        const body: unknown = request.body;
        // The no-op validator above skips the querystring too: check `mode` here.
        const { mode = 'replace' } = request.query as { mode?: string };
        if (mode !== 'replace' && mode !== 'add') {
          throw new Problem('validation-failed', 'querystring/mode must be replace or add', {
            errors: [{ path: 'querystring/mode', message: 'must be replace or add' }],
          });
        }
        const payload =
          typeof body === 'string'
            ? ({ format: 'csv', text: body } as const)
            : ({ format: 'json', body } as const);
        return importGroups(db, payload, mode, clock());
      },
    );
  });
}
