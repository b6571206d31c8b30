import { Type, type TSchema } from 'typebox';
import type { Db } from '../store/database.js';
import type { AuthGuards } from '../http/auth-guards.js';
import type { Server } from '../http/server-types.js';
import { AudienceSchema, problemResponses } from '../http/schemas.js';
import { audiencePage, audienceReach, checkAudience } from './audience.js';
import { orgTree, roleCounts } from './org-tree.js';
import { toUsers } from './users-store.js';

/**
 * A unit of the org tree; its children have the same shape. Spelled out to a depth of six
 * (学院/系/班级 needs three) and left open below that, so the schema stays plain JSON Schema.
 */
function orgNodeSchema(depth: number): TSchema {
  if (depth === 0) return Type.Unknown({ description: 'A unit of the org tree, as above' });
  return Type.Object({
    name: Type.String({ description: 'Last segment of the path, e.g. 2024级1班' }),
    path: Type.String({
      description: 'Whole path, e.g. 农学院/作物学系/2024级1班: use it as `filter.orgPrefix`',
    }),
    count: Type.Integer({ description: 'Users at this unit or below it' }),
    direct: Type.Integer({ description: 'Users whose org path is exactly this unit' }),
    children: Type.Array(orgNodeSchema(depth - 1)),
  });
}

const PreviewBody = Type.Object(
  {
    to: AudienceSchema,
    sample: Type.Integer({
      minimum: 0,
      maximum: 50,
      default: 10,
      description: 'How many recipients to list (the first ones in a stable order)',
    }),
  },
  { additionalProperties: false },
);

const PreviewSchema = Type.Object({
  count: Type.Integer({ description: 'Distinct users the audience selects now' }),
  reach: Type.Object(
    {
      in_app: Type.Integer(),
      email: Type.Integer(),
      sms: Type.Integer(),
      wechat: Type.Integer(),
      wecom: Type.Integer(),
      dingtalk: Type.Integer(),
      feishu: Type.Integer(),
    },
    {
      description:
        'Of those, how many have an address on each channel (in_app: everyone). Preferences (opt-outs) are applied at fan-out and not counted here',
    },
  ),
  sample: Type.Array(
    Type.Object({
      externalId: Type.String(),
      name: Type.String(),
      orgPath: Type.String(),
      roles: Type.Array(Type.String()),
      locale: Type.String(),
    }),
  ),
  unknownUsers: Type.Array(Type.String(), {
    description: 'External ids in `to.users` that do not exist (sending would be refused: 422)',
  }),
  unknownGroups: Type.Array(Type.String(), {
    description: 'Group keys in `to.groups` that do not exist (sending would be refused: 422)',
  }),
});

/** The console's audience builder: a recipient count before sending, the org tree, roles. */
export function audienceRoutes(app: Server, deps: { db: Db; guards: AuthGuards }): void {
  const { db, guards } = deps;
  const tags = ['console'];

  app.post(
    '/v1/audience/preview',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'How many people an audience reaches, and a few of them',
        description:
          'Takes the `to` object of `POST /v1/messages`. Unknown users and groups are listed, not refused, so a picker can mark them; a `to` that selects nothing counts 0.',
        body: PreviewBody,
        response: { 200: PreviewSchema, ...problemResponses },
      },
    },
    async (request) => {
      const { to, sample } = request.body;
      const reach = await audienceReach(db, to);
      const unknown = await checkAudience(db, to);
      const users =
        sample > 0 ? await toUsers(db, (await audiencePage(db, to, { limit: sample })).rows) : [];
      return {
        count: reach.count,
        reach: {
          in_app: reach.count,
          email: reach.email,
          sms: reach.sms,
          wechat: reach.wechat,
          wecom: reach.wecom,
          dingtalk: reach.dingtalk,
          feishu: reach.feishu,
        },
        sample: users.map((u) => ({
          externalId: u.externalId,
          name: u.name,
          orgPath: u.orgPath,
          roles: u.roles,
          locale: u.locale,
        })),
        unknownUsers: unknown.unknownUsers,
        unknownGroups: unknown.unknownGroups,
      };
    },
  );

  app.get(
    '/v1/org-tree',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'The organisation (学院/系/班级, offices) with user counts, for audience pickers',
        response: {
          200: Type.Object({
            total: Type.Integer({ description: 'Every user' }),
            unassigned: Type.Integer({ description: 'Users without an org path' }),
            nodes: Type.Array(orgNodeSchema(6), { description: 'Top-level units, by name' }),
          }),
          ...problemResponses,
        },
      },
    },
    async () => {
      const tree = await orgTree(db);
      return { total: tree.total, unassigned: tree.unassigned, nodes: [...tree.nodes] };
    },
  );

  app.get(
    '/v1/roles',
    {
      onRequest: guards.admin,
      schema: {
        tags,
        summary: 'Every role held by someone, with how many users hold it',
        response: {
          200: Type.Object({
            items: Type.Array(Type.Object({ role: Type.String(), count: Type.Integer() })),
          }),
          ...problemResponses,
        },
      },
    },
    async () => ({ items: await roleCounts(db) }),
  );
}
