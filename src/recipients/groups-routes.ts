import { Type } from 'typebox';
import type { Db } from '../store/database.js';
import type { Clock } from '../time/clock.js';
import type { AuthGuards } from '../http/auth-guards.js';
import type { Server } from '../http/server-types.js';
import { notFound, Problem } from '../http/problem.js';
import {
  AudienceFilterSchema,
  isoTimes,
  ProblemSchema,
  problemResponses,
  TimestampSchema,
} from '../http/schemas.js';
import type { AudienceFilter } from './audience-types.js';
import { filterConstrains } from './users-store.js';
import {
  createGroup,
  deleteGroup,
  getGroup,
  listGroupMembers,
  listGroups,
  replaceGroup,
  type Group,
  type GroupWrite,
} from './groups-store.js';
import { UserPageSchema } from './users-routes.js';

const GroupSchema = Type.Object({
  key: Type.String(),
  name: Type.String(),
  kind: Type.Union([Type.Literal('static'), Type.Literal('dynamic')], {
    description: 'static: an explicit member list; dynamic: a filter evaluated at send time',
  }),
  filter: Type.Union([AudienceFilterSchema, Type.Null()], {
    description: 'The filter of a dynamic group',
  }),
  memberCount: Type.Integer({ description: 'Users in the group now' }),
  createdAt: TimestampSchema,
  updatedAt: TimestampSchema,
});

const groupFields = {
  name: Type.String({ minLength: 1, maxLength: 200 }),
  members: Type.Optional(
    Type.Array(Type.String(), {
      maxItems: 50_000,
      description: 'External ids of a static group (replaces all members); all must exist',
    }),
  ),
  filter: Type.Optional(
    Type.Object(AudienceFilterSchema.properties, {
      additionalProperties: false,
      description:
        'A dynamic group: roles (any of) AND orgPrefix/orgPrefixes (at or below any of these paths: "农学院" matches "农学院/作物学系", not "农学院二部") AND attributes (all of); at least one part',
    }),
  ),
};

const KeyParams = Type.Object({ key: Type.String({ description: 'Group key' }) });

const GROUP_KEY = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';

function checkShape(body: {
  members?: readonly string[] | undefined;
  filter?: AudienceFilter | undefined;
}): void {
  if (body.members !== undefined && body.filter !== undefined) {
    throw new Problem(
      'validation-failed',
      'A group has either members (static) or a filter (dynamic), not both',
    );
  }
  if (body.filter !== undefined && !filterConstrains(body.filter)) {
    throw new Problem(
      'validation-failed',
      'body/filter must set at least one of roles, orgPrefix, orgPrefixes or attributes',
    );
  }
}

/** The written group, or the Problem the refusal maps to. */
function unwrap(result: GroupWrite, key: string): ReturnType<typeof isoTimes<Group>> {
  if (result.ok) return isoTimes(result.group);
  switch (result.reason) {
    case 'conflict':
      throw new Problem('conflict', `A group with key "${key}" exists already`);
    case 'missing':
      throw notFound(`Group "${key}"`);
    case 'unknown-members': {
      const shown =
        result.unknown.slice(0, 10).join(', ') + (result.unknown.length > 10 ? ', …' : '');
      throw new Problem('unknown-recipients', `Unknown members: ${shown}`, {
        unknown: result.unknown,
      });
    }
  }
}

/** Admin routes over groups: static member lists and dynamic filters that audiences name by key. */
export function groupsRoutes(
  app: Server,
  deps: { db: Db; clock: Clock; guards: AuthGuards },
): void {
  const { db, clock, guards } = deps;

  app.post(
    '/v1/groups',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['groups'],
        summary: 'Create a group',
        description:
          'Static (members) or dynamic (filter), not both. Unknown members → 422 unknown-recipients.',
        body: Type.Object(
          {
            key: Type.String({
              pattern: GROUP_KEY,
              description: 'Stable key audiences use, e.g. class-2024-agronomy-1',
            }),
            ...groupFields,
          },
          { additionalProperties: false },
        ),
        response: { 201: GroupSchema, ...problemResponses, 409: ProblemSchema, 422: ProblemSchema },
      },
    },
    async (request, reply) => {
      checkShape(request.body);
      const group = unwrap(await createGroup(db, request.body, clock()), request.body.key);
      return reply.code(201).send(group);
    },
  );

  app.get(
    '/v1/groups',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['groups'],
        summary: 'List groups with their member counts',
        response: { 200: Type.Object({ items: Type.Array(GroupSchema) }), ...problemResponses },
      },
    },
    async () => ({ items: (await listGroups(db)).map(isoTimes) }),
  );

  app.get(
    '/v1/groups/:key',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['groups'],
        summary: 'Get a group',
        params: KeyParams,
        response: { 200: GroupSchema, ...problemResponses },
      },
    },
    async (request) => {
      const group = await getGroup(db, request.params.key);
      if (!group) throw notFound(`Group "${request.params.key}"`);
      return isoTimes(group);
    },
  );

  app.put(
    '/v1/groups/:key',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['groups'],
        summary: 'Replace a group',
        description:
          'Replaces the name and the members or filter (a group may switch between static and dynamic).',
        params: KeyParams,
        body: Type.Object(groupFields, { additionalProperties: false }),
        response: { 200: GroupSchema, ...problemResponses, 422: ProblemSchema },
      },
    },
    async (request) => {
      checkShape(request.body);
      return unwrap(
        await replaceGroup(db, request.params.key, request.body, clock()),
        request.params.key,
      );
    },
  );

  app.delete(
    '/v1/groups/:key',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['groups'],
        summary: 'Delete a group',
        description:
          'Messages already fanned out are unaffected; scheduled messages naming the group will no longer reach its members.',
        params: KeyParams,
        response: { 204: Type.Null({ description: 'Deleted' }), ...problemResponses },
      },
    },
    async (request, reply) => {
      if (!(await deleteGroup(db, request.params.key)))
        throw notFound(`Group "${request.params.key}"`);
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/groups/:key/members',
    {
      onRequest: guards.admin,
      schema: {
        tags: ['groups'],
        summary: "List a group's members",
        description:
          'Members in user-id order, keyset-paginated; a dynamic group is evaluated now.',
        params: KeyParams,
        querystring: Type.Object({
          limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
          cursor: Type.Optional(Type.String({ description: 'nextCursor of the previous page' })),
        }),
        response: { 200: UserPageSchema, ...problemResponses },
      },
    },
    async (request) => {
      const page = await listGroupMembers(db, request.params.key, {
        limit: request.query.limit,
        after: request.query.cursor,
      });
      if (!page) throw notFound(`Group "${request.params.key}"`);
      return { ...page, items: page.items.map(isoTimes) };
    },
  );
}
