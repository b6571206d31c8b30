import { createContext, useContext } from 'react';
import type { ReactNode } from 'react';
import { centerApi, type CenterApi } from '../api/center-api';
import type { Me } from '../api/center-types';
import { useCookieSession } from './use-cookie-session';

export type SessionState =
  | { readonly status: 'loading' }
  /** `expired`: the session ended while the app was open (a 401 from any call). */
  | { readonly status: 'anonymous'; readonly expired: boolean }
  | { readonly status: 'signed-in'; readonly me: Me }
  /** Herald could not be asked who we are (network, 503): retry, do not show the login. */
  | { readonly status: 'unknown'; readonly error: unknown };

export interface Session {
  readonly state: SessionState;
  readonly api: CenterApi;
  login(externalId: string, password: string): Promise<void>;
  logout(): Promise<void>;
  /** Asks Herald again who the cookie belongs to. */
  refresh(): Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

const signedIn = (me: Me): SessionState => ({ status: 'signed-in', me });

/**
 * The student's or staff member's session. The token lives only in the HttpOnly cookie that
 * login sets; the app learns who is signed in from `GET /v1/me`.
 */
export function SessionProvider({ children }: { children: ReactNode }) {
  const value: Session = useCookieSession(centerApi, signedIn);
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession() outside <SessionProvider>');
  return session;
}

/** The signed-in user; only for screens behind the login. */
export function useMe(): Me {
  const { state } = useSession();
  if (state.status !== 'signed-in') throw new Error('useMe() without a signed-in user');
  return state.me;
}
