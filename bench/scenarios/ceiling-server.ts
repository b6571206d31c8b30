/**
 * The machine's HTTP ceiling (ARCHITECTURE.md §7): bare Fastify, a JSON-schema-validated POST
 * shaped like Herald's send body, answered 202 with no persistence. Run as a child process by
 * the bench (so it has the same process layout as Herald); prints `listening <url>`.
 */
import { randomUUID } from 'node:crypto';
import Fastify from 'fastify';
import { CHANNELS } from '../../src/channels/channel.js';

const bodySchema = {
  type: 'object',
  additionalProperties: false,
  required: ['category', 'to'],
  properties: {
    category: { type: 'string', minLength: 1, maxLength: 64 },
    to: {
      type: 'object',
      additionalProperties: false,
      properties: {
        users: {
          type: 'array',
          maxItems: 10000,
          items: { type: 'string', minLength: 1, maxLength: 64 },
        },
        groups: {
          type: 'array',
          maxItems: 100,
          items: { type: 'string', minLength: 1, maxLength: 64 },
        },
        all: { type: 'boolean' },
      },
    },
    data: { type: 'object' },
    channels: {
      type: 'array',
      minItems: 1,
      maxItems: 9,
      items: { type: 'string', enum: CHANNELS },
    },
    locale: { type: 'string' },
  },
} as const;

const app = Fastify({
  logger: false,
  bodyLimit: 262144,
  ajv: { customOptions: { removeAdditional: false, coerceTypes: 'array', allErrors: false } },
});

app.post(
  '/v1/messages',
  {
    schema: {
      body: bodySchema,
      response: {
        202: {
          type: 'object',
          properties: { id: { type: 'string' }, status: { type: 'string' } },
        },
      },
    },
  },
  async (_request, reply) => {
    reply.code(202);
    return { id: randomUUID(), status: 'accepted' };
  },
);

const url = await app.listen({ port: 0, host: '127.0.0.1' });
process.stdout.write(`listening ${url}\n`);
const stop = () => void app.close().then(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
