import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { createApiClient, type ApiClient } from '../api/api-client';
import { isApiError } from '../api/api-error';
import { useI18n } from '../i18n/i18n-provider';
import { closestLocale, storedLocale } from '../i18n/locale';

/** The states every cookie session goes through before (or instead of) someone signing in. */
export type UnsignedState =
  | { readonly status: 'loading' }
  /** `expired`: the session ended while the app was open (a 401 from any call). */
  | { readonly status: 'anonymous'; readonly expired: boolean }
  /** Herald could not be asked who we are (network, 503): retry, do not show the login. */
  | { readonly status: 'unknown'; readonly error: unknown };

/** The calls a session needs from its app's API. */
export interface SessionCalls<M> {
  login(externalId: string, password: string): Promise<unknown>;
  logout(): Promise<unknown>;
  me(): Promise<M>;
}

export interface CookieSession<Api, S> {
  readonly state: UnsignedState | S;
  readonly api: Api;
  login(externalId: string, password: string): Promise<void>;
  logout(): Promise<void>;
  /** Asks Herald again who the cookie belongs to. */
  refresh(): Promise<void>;
}

/**
 * A session kept in the HttpOnly cookie that `POST /v1/auth/login` sets; who is signed in is
 * learnt from `GET /v1/me`. `signedIn` turns the answer into the app's signed-in state. The
 * account's time zone becomes the one every time on screen is shown in; signed out, the
 * device's.
 */
export function useCookieSession<
  M extends { readonly locale?: string | null; readonly timezone?: string | null },
  Api extends SessionCalls<M>,
  S extends { readonly status: string },
>(makeApi: (client: ApiClient) => Api, signedIn: (me: M) => S): CookieSession<Api, S> {
  const { setLocale, setTimeZone } = useI18n();
  const [state, setState] = useState<UnsignedState | S>({ status: 'loading' });
  const stateRef = useRef(state);
  stateRef.current = state;
  const makeApiRef = useRef(makeApi);
  const signedInRef = useRef(signedIn);
  signedInRef.current = signedIn;

  const api = useMemo(
    () =>
      makeApiRef.current(
        createApiClient({
          onUnauthenticated: () => {
            if (stateRef.current.status === 'signed-in') {
              setState({ status: 'anonymous', expired: true });
              setTimeZone(null);
            }
          },
        }),
      ),
    [setTimeZone],
  );

  const refresh = useCallback(async () => {
    try {
      const me = await api.me();
      setTimeZone(me.timezone ?? null);
      setState(signedInRef.current(me));
    } catch (error) {
      if (isApiError(error, 'unauthenticated')) {
        setTimeZone(null);
        setState({ status: 'anonymous', expired: false });
      } else {
        setState({ status: 'unknown', error });
      }
    }
  }, [api, setTimeZone]);

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
      setTimeZone(me.timezone ?? null);
      setState(signedInRef.current(me));
    },
    [api, setLocale, setTimeZone],
  );

  const logout = useCallback(async () => {
    try {
      await api.logout();
    } finally {
      setTimeZone(null);
      setState({ status: 'anonymous', expired: false });
    }
  }, [api, setTimeZone]);

  return useMemo(
    () => ({ state, api, login, logout, refresh }),
    [state, api, login, logout, refresh],
  );
}
