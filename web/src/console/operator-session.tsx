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
import { consoleApi, type ConsoleApi } from '../api/console-api';
import type { Operator } from '../api/console-types';
import { useI18n } from '../i18n/i18n-provider';
import { closestLocale, storedLocale } from '../i18n/locale';

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
  const { setLocale } = useI18n();
  const [state, setState] = useState<OperatorState>({ status: 'loading' });
  const stateRef = useRef(state);
  stateRef.current = state;

  const api = useMemo(
    () =>
      consoleApi(
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
      setState(signedIn(await api.me()));
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
      const accountLocale = closestLocale(me.locale);
      if (!storedLocale() && accountLocale) setLocale(accountLocale);
      setState(signedIn(me));
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

  const value = useMemo<OperatorSession>(
    () => ({ state, api, login, logout, refresh }),
    [state, api, login, logout, refresh],
  );
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
