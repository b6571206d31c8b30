import { Type, type TSchema } from 'typebox';
import { CHANNELS } from '../channels/channel.js';

/** Schemas shared by several route modules. */

export const ProblemSchema = Type.Object(
  {
    type: Type.String(),
    title: Type.String(),
    status: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable error code' }),
    detail: Type.Optional(Type.String()),
    instance: Type.Optional(Type.String()),
  },
  { additionalProperties: true, description: 'RFC 9457 problem details' },
);

export const ChannelSchema = Type.Union(
  CHANNELS.map((c) => Type.Literal(c)),
  { description: 'Delivery channel' },
);

export const LocaleSchema = Type.String({
  pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$',
  examples: ['zh-CN', 'en'],
});

/** How many org units one filter may name in `orgPrefixes`. */
export const MAX_ORG_PREFIXES = 100;

export const AudienceFilterSchema = Type.Object(
  {
    roles: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 50 }),
    ),
    orgPrefix: Type.Optional(
      Type.String({
        minLength: 1,
        maxLength: 256,
        // Like an orgPrefixes entry: a blank one would drop the org part, never mean "anyone".
        pattern: '[^\\s/]',
        description: 'One org unit: users at this path or below it (e.g. 农学院/作物学系)',
      }),
    ),
    orgPrefixes: Type.Optional(
      Type.Array(
        // A blank entry (only spaces and slashes) would name no unit: refused, never "anyone".
        Type.String({ minLength: 1, maxLength: 256, pattern: '[^\\s/]' }),
        {
          maxItems: MAX_ORG_PREFIXES,
          description:
            'Several org units: users at or below ANY of them (a union, each user once). With orgPrefix, the org part is the union of all of them; roles and attributes still narrow it',
          examples: [['农学院/作物学系/2024级1班', '农学院/种子科学与工程系/2024级1班']],
        },
      ),
    ),
    attributes: Type.Optional(
      Type.Record(Type.String({ maxLength: 64 }), Type.String({ maxLength: 256 })),
    ),
  },
  { additionalProperties: false },
);

export const AudienceSchema = Type.Object(
  {
    users: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
        maxItems: 10000,
        description: 'External ids (学号/工号)',
      }),
    ),
    groups: Type.Optional(
      Type.Array(Type.String({ minLength: 1, maxLength: 64 }), {
        maxItems: 100,
        description: 'Group keys',
      }),
    ),
    filter: Type.Optional(AudienceFilterSchema),
    all: Type.Optional(Type.Boolean({ description: 'Everyone' })),
  },
  { additionalProperties: false },
);

/** Paginated list wrapper: `nextCursor` is null on the last page. */
export function Page<T extends TSchema>(item: T) {
  return Type.Object({
    items: Type.Array(item),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  });
}

export const problemResponses = {
  400: ProblemSchema,
  401: ProblemSchema,
  403: ProblemSchema,
  404: ProblemSchema,
} as const;

/** The API shows times as ISO 8601 strings; stores keep epoch milliseconds. */
export function isoTimes<T extends { createdAt: number; updatedAt: number }>(
  x: T,
): Omit<T, 'createdAt' | 'updatedAt'> & { createdAt: string; updatedAt: string } {
  return {
    ...x,
    createdAt: new Date(x.createdAt).toISOString(),
    updatedAt: new Date(x.updatedAt).toISOString(),
  };
}

export const TimestampSchema = Type.String({ format: 'date-time' });

/** Who did something from the console (`actorView` of src/auth/operators.ts). */
export const ActorSchema = Type.Union(
  [
    Type.Object({ kind: Type.Literal('admin-token') }),
    Type.Object({ kind: Type.Literal('operator'), externalId: Type.String() }),
    Type.Null(),
  ],
  {
    description:
      'Who did it from the console: an operator (their external id) or the admin token; null when a source did it itself or it was not recorded',
  },
);
