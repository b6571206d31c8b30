import type {
  FastifyBaseLogger,
  FastifyInstance,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Quotas } from '../quotas/quotas.js';
import type { Operator } from '../auth/operators.js';

/** The Fastify instance every route module receives: TypeBox schemas type the handlers. */
export type Server = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  TypeBoxTypeProvider
>;

/** Who made a request, set by the auth guards. */
export type Principal =
  | {
      readonly kind: 'admin';
      /** Set when an operator's session (not the admin token) authenticated the request. */
      readonly operator?: Operator;
    }
  | {
      readonly kind: 'source';
      readonly sourceId: string;
      readonly sourceKey: string;
      readonly categories: readonly string[];
      /** The source's daily quotas, checked when it sends (see IngestQuotaGate). */
      readonly quotas: Quotas;
    }
  | { readonly kind: 'user'; readonly userId: string };

declare module 'fastify' {
  interface FastifyRequest {
    principal: Principal | null;
  }
}
