import type { ReactNode } from 'react';
import { Navigate, Route, Routes, useLocation, useNavigate } from 'react-router';
import { AppShell } from '../components/app-shell';
import { InboxIcon, SettingsIcon } from '../components/icons';
import { ErrorState, Loading } from '../components/states';
import { NotFound } from '../components/not-found';
import { useDocumentTitle } from '../components/use-document-title';
import { useI18n } from '../i18n/i18n-provider';
import { SessionProvider, useMe, useSession } from '../session/session-provider';
import { InboxPage } from './inbox-page';
import { LiveDot, LiveNotice } from './live-dot';
import { LiveInboxProvider, useLiveInbox } from './live-inbox';
import { LoginPage } from './login-page';
import { PreferencesPage } from './preferences-page';

/** The message center for students and staff, at `/`. */
export function CenterApp() {
  return (
    <SessionProvider>
      <CenterRoutes />
    </SessionProvider>
  );
}

function CenterRoutes() {
  const { state, refresh } = useSession();
  const location = useLocation();
  if (state.status === 'loading')
    return (
      <div className="page-center">
        <Loading />
      </div>
    );
  if (state.status === 'unknown')
    return (
      <div className="page-center">
        <ErrorState error={state.error} onRetry={() => void refresh()} />
      </div>
    );
  if (state.status === 'anonymous') {
    if (location.pathname === '/login') return <LoginPage />;
    const next =
      location.pathname === '/'
        ? ''
        : `?next=${encodeURIComponent(location.pathname + location.search)}`;
    return <Navigate to={`/login${next}`} replace />;
  }
  return (
    <LiveInboxProvider>
      <CenterLayout>
        <Routes>
          <Route path="/login" element={<LoginPage />} />
          <Route path="/" element={<InboxPage />} />
          <Route path="/messages/:id" element={<InboxPage />} />
          <Route path="/preferences" element={<PreferencesPage />} />
          <Route path="*" element={<NotFound home="/" />} />
        </Routes>
      </CenterLayout>
    </LiveInboxProvider>
  );
}

function CenterLayout({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const me = useMe();
  const { logout } = useSession();
  const { unread } = useLiveInbox();
  const navigate = useNavigate();
  useDocumentTitle(`${t('app.center')} · ${t('app.name')}`, unread ?? 0);
  return (
    <AppShell
      area={t('app.center')}
      home="/"
      nav={[
        { to: '/', label: t('inbox.title'), icon: <InboxIcon />, badge: unread ?? 0, end: false },
        { to: '/preferences', label: t('prefs.title'), icon: <SettingsIcon /> },
      ]}
      user={{ name: me.name, detail: me.externalId }}
      onLogout={() => void logout().then(() => navigate('/login', { replace: true }))}
      status={<LiveDot />}
      notice={<LiveNotice />}
      zoneSettings="/preferences#timezone"
    >
      {children}
    </AppShell>
  );
}
