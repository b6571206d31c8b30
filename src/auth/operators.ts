import type { Principal } from '../http/server-types.js';

/**
 * The role that makes a person an operator: a user holding it who logs in through
 * `POST /v1/auth/login` may use the admin routes with their session, as the admin token can.
 * Roles come from the user directory (import or `PUT /v1/users/{externalId}`), so granting
 * and withdrawing operator rights is an ordinary user update.
 */
export const OPERATOR_ROLE = 'herald-admin';

/** An operator acting through their session (see OPERATOR_ROLE). */
export interface Operator {
  readonly userId: string;
  readonly externalId: string;
  readonly name: string;
}

/**
 * Who did something, as stored with what they did (`messages.sent_by`,
 * `templates.created_by`): `operator:<external id>` or `admin-token`; null for a source.
 */
export function actorOf(principal: Principal | null): string | null {
  if (principal?.kind !== 'admin') return null;
  return principal.operator ? `operator:${principal.operator.externalId}` : 'admin-token';
}

/** The API's view of a stored actor. */
export type ActorView =
  { readonly kind: 'admin-token' } | { readonly kind: 'operator'; readonly externalId: string };

export function actorView(stored: string | null | undefined): ActorView | null {
  if (!stored) return null;
  if (stored.startsWith('operator:')) {
    return { kind: 'operator', externalId: stored.slice('operator:'.length) };
  }
  return { kind: 'admin-token' };
}
