import { Type } from 'typebox';
import { Compile } from 'typebox/compile';
import { AudienceSchema, ChannelSchema, LocaleSchema } from '../http/schemas.js';
import { Problem } from '../http/problem.js';
import type { SendBody } from './ingest.js';

/**
 * The body of a message, whichever way it arrives: `POST /v1/messages` (Fastify validates it
 * with this schema) and the AMQP ingress (validated with `parseSendBody`). One schema, so both
 * doors accept exactly the same messages.
 */
export const SendBodySchema = Type.Object(
  {
    category: Type.String({ minLength: 1, maxLength: 64, examples: ['exam.reminder'] }),
    to: AudienceSchema,
    data: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: 'Template variables' }),
    ),
    channels: Type.Optional(
      Type.Array(ChannelSchema, {
        minItems: 1,
        maxItems: 9,
        description: "Default: the category's (or each user's) channels",
      }),
    ),
    locale: Type.Optional(LocaleSchema),
    sendAt: Type.Optional(
      Type.String({ format: 'date-time', description: 'Hold the message until then' }),
    ),
  },
  { additionalProperties: false },
);

const checker = Compile(SendBodySchema);

/** At most this many issues are listed in a `validation-failed` problem. */
const MAX_ISSUES = 20;

/**
 * Parses raw bytes as a message body: `malformed-json` when they are not JSON,
 * `validation-failed` (with `errors`, paths as in the HTTP API: `body/to/users/0`) when the
 * JSON does not fit the schema.
 */
export function parseSendBody(raw: Buffer | string): SendBody | Problem {
  let value: unknown;
  try {
    value = JSON.parse(typeof raw === 'string' ? raw : raw.toString('utf8'));
  } catch {
    return new Problem('malformed-json', 'The message body is not valid JSON');
  }
  if (checker.Check(value)) return value as SendBody;
  const errors: { path: string; message: string }[] = [];
  const seen = new Set<string>();
  for (const e of checker.Errors(value)) {
    // `additionalProperties: false` is reported twice (the property, then the object): keep
    // the object's issue, which names the property.
    if (e.keyword === 'boolean') continue;
    const named = (e.params as { additionalProperties?: string[]; requiredProperties?: string[] })
      .additionalProperties ??
      (e.params as { requiredProperties?: string[] }).requiredProperties ?? [null];
    for (const property of named) {
      const path = `body${e.instancePath}${property === null ? '' : `/${property}`}`;
      const message =
        e.keyword === 'additionalProperties'
          ? 'must NOT have additional properties'
          : e.keyword === 'required'
            ? `must have required property '${property}'`
            : e.message;
      const id = `${path}\u0000${message}`;
      if (seen.has(id)) continue;
      seen.add(id);
      errors.push({ path, message });
    }
    if (errors.length >= MAX_ISSUES) break;
  }
  const first = errors[0];
  return new Problem('validation-failed', first ? `${first.path} ${first.message}` : undefined, {
    errors: errors.slice(0, MAX_ISSUES),
  });
}
