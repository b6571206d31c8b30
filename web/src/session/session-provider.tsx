import {
  createContext,
  useCallback,
  useContext,
  useEffect,
  useMemo,
  useRef,
  useState,
} from 'react';
import type { ReactNode } from 'react';
import { createApiClient } from '../api/api-client';
import { isApiError } from '../api/api-error';
import { centerApi, type CenterApi } from '../api/center-api';
import type { Me } from '../api/center-types';
import { useI18n } from '../i18n/i18n-provider';
import { closestLocale, storedLocale } from '../i18n/locale';

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

/**
 * The student's or staff member's session. The token lives only in the HttpOnly cookie that
 * login sets; the app learns who is signed in from `GET /v1/me`.
 */
export function SessionProvider({ children }: { children: ReactNode }) {
  const { setLocale } = useI18n();
  const [state, setState] = useState<SessionState>({ status: 'loading' });
  const stateRef = useRef(state);
  stateRef.current = state;

  const api = useMemo(
    () =>
      centerApi(
        createApiClient({
          onUnauthenticated: () => {
            if (stateRef.current.status === 'signed-in')
              setState({ status: 'anonymous', expired: true });
          },
        }),
      ),
    [],
  );

  const refresh = useCallback(async () => {
    try {
      setState({ status: 'signed-in', me: await api.me() });
    } catch (error) {
      setState(
        isApiError(error, 'unauthenticated')
          ? { status: 'anonymous', expired: false }
          : { status: 'unknown', error },
      );
    }
  }, [api]);

  useEffect(() => {
    void refresh();
  }, [refresh]);

  const login = useCallback(
    async (externalId: string, password: string) => {
      await api.login(externalId, password);
      const me = await api.me();
      // A browser that never chose a language takes the account's.
      const accountLocale = closestLocale(me.locale);
      if (!storedLocale() && accountLocale) setLocale(accountLocale);
      setState({ status: 'signed-in', me });
    },
    [api, setLocale],
  );

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setState({ status: 'anonymous', expired: false });
    }
  }, [api]);

  const value = useMemo<Session>(
    () => ({ state, api, login, logout, refresh }),
    [state, api, login, logout, refresh],
  );
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
