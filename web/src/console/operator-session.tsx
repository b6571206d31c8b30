import { createContext, useContext } from 'react';
import type { ReactNode } from 'react';
import { consoleApi, type ConsoleApi } from '../api/console-api';
import type { Operator } from '../api/console-types';
import { useCookieSession } from '../session/use-cookie-session';

/** The role that makes a user an operator (src/auth/operators.ts). */
export const OPERATOR_ROLE = 'herald-admin';

export type OperatorState =
  | { readonly status: 'loading' }
  /** `expired`: the session ended while the console was open (a 401 from any call). */
  | { readonly status: 'anonymous'; readonly expired: boolean }
  /** Signed in, but as someone who is not an operator (a student, a teacher …). */
  | { readonly status: 'not-operator'; readonly me: Operator }
  | { readonly status: 'signed-in'; readonly me: Operator }
  /** Herald could not be asked who we are (network, 503): retry, do not show the login. */
  | { readonly status: 'unknown'; readonly error: unknown };

export interface OperatorSession {
  readonly state: OperatorState;
  readonly api: ConsoleApi;
  login(externalId: string, password: string): Promise<void>;
  logout(): Promise<void>;
  refresh(): Promise<void>;
}

const OperatorContext = createContext<OperatorSession | null>(null);

const signedIn = (me: Operator): OperatorState =>
  me.roles.includes(OPERATOR_ROLE) ? { status: 'signed-in', me } : { status: 'not-operator', me };

/**
 * The operator's session: their own account, logged in through `POST /v1/auth/login`. The
 * token stays in the HttpOnly cookie (shared with the message center at `/`); Herald grants
 * admin rights to the cookie of a user holding the role `herald-admin`.
 */
export function OperatorSessionProvider({ children }: { children: ReactNode }) {
  const value: OperatorSession = useCookieSession(consoleApi, signedIn);
  return <OperatorContext.Provider value={value}>{children}</OperatorContext.Provider>;
}

export function useOperatorSession(): OperatorSession {
  const session = useContext(OperatorContext);
  if (!session) throw new Error('useOperatorSession() outside <OperatorSessionProvider>');
  return session;
}

/** The console's API calls; only inside the provider. */
export function useConsoleApi(): ConsoleApi {
  return useOperatorSession().api;
}

/** The signed-in operator; only for screens behind the sign-in. */
export function useOperator(): Operator {
  const { state } = useOperatorSession();
  if (state.status !== 'signed-in') throw new Error('useOperator() without a signed-in operator');
  return state.me;
}
