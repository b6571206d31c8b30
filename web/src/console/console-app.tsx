import { useEffect, type ReactNode } from 'react';
import { Navigate, Route, Routes, useLocation, useNavigate } from 'react-router';
import { AppShell } from '../components/app-shell';
import { NotFound } from '../components/not-found';
import { ErrorState, Loading } from '../components/states';
import { useDocumentTitle } from '../components/use-document-title';
import { useI18n } from '../i18n/i18n-provider';
import '../styles/console.css';
import {
  DashboardIcon,
  MessagesIcon,
  PeopleIcon,
  SendIcon,
  SetupIcon,
  TemplateIcon,
  WrenchIcon,
} from './console-icons';
import { ConsoleLogin, NotOperator } from './console-login';
import { ComposePage } from './compose/compose-page';
import { DashboardPage } from './dashboard/dashboard-page';
import { MessagePage } from './messages/message-page';
import { MessagesPage } from './messages/messages-page';
import { OperatorSessionProvider, useOperator, useOperatorSession } from './operator-session';
import { ReferenceDataProvider } from './reference-data';
import { TemplatesPage } from './templates/templates-page';
import { CategoriesPage } from './setup/categories-page';
import { SourcePage } from './setup/source-page';
import { SourcesPage } from './setup/sources-page';
import { GroupsPage } from './people/groups-page';
import { UsersPage } from './people/users-page';
import { DeadLettersPage } from './ops/dead-letters-page';
import { OutboxPage } from './ops/outbox-page';

/**
 * The operator console at `/admin` (loaded on demand, so students never download it).
 * Operators sign in with their own account; the screens use the same AppShell, API client,
 * i18n and states as the message center.
 */
export default function ConsoleApp() {
  return (
    <OperatorSessionProvider>
      <ConsoleGate />
    </OperatorSessionProvider>
  );
}

function ConsoleGate() {
  const { state, refresh } = useOperatorSession();
  const { t } = useI18n();
  useDocumentTitle(`${t('app.console')} · ${t('app.name')}`);
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
  // The sign-in answers at whatever console address was asked for, which stays in the bar: after
  // signing in the operator is where they meant to go.
  if (state.status === 'anonymous') return <ConsoleLogin expired={state.expired} />;
  if (state.status === 'not-operator') return <NotOperator me={state.me} />;
  return (
    <ConsoleLayout>
      <Routes>
        <Route index element={<DashboardPage />} />
        <Route path="messages" element={<MessagesPage />} />
        <Route path="messages/:id" element={<MessagePage />} />
        <Route path="compose" element={<ComposePage />} />
        <Route path="templates" element={<TemplatesPage />} />
        <Route path="setup" element={<Navigate to="/admin/setup/categories" replace />} />
        <Route path="setup/categories" element={<CategoriesPage />} />
        <Route path="setup/sources" element={<SourcesPage />} />
        <Route path="setup/sources/:key" element={<SourcePage />} />
        <Route path="people" element={<Navigate to="/admin/people/users" replace />} />
        <Route path="people/users" element={<UsersPage />} />
        <Route path="people/groups" element={<GroupsPage />} />
        <Route path="ops" element={<Navigate to="/admin/ops/dead-letters" replace />} />
        <Route path="ops/dead-letters" element={<DeadLettersPage />} />
        <Route path="ops/outbox" element={<OutboxPage />} />
        <Route path="*" element={<NotFound home="/admin" />} />
      </Routes>
    </ConsoleLayout>
  );
}

function ConsoleLayout({ children }: { children: ReactNode }) {
  const { t } = useI18n();
  const me = useOperator();
  const { logout } = useOperatorSession();
  const navigate = useNavigate();
  const { pathname } = useLocation();
  // On a phone the section tabs scroll sideways: keep the current one in sight.
  useEffect(() => {
    document
      .querySelector('.console .app-nav-link.active')
      ?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  }, [pathname]);
  return (
    <div className="console">
      <AppShell
        area={t('app.console')}
        home="/admin"
        nav={[
          { to: '/admin', label: t('con.nav.dashboard'), icon: <DashboardIcon />, end: true },
          { to: '/admin/messages', label: t('con.nav.messages'), icon: <MessagesIcon /> },
          { to: '/admin/compose', label: t('con.nav.compose'), icon: <SendIcon /> },
          { to: '/admin/templates', label: t('con.nav.templates'), icon: <TemplateIcon /> },
          { to: '/admin/setup', label: t('con.nav.setup'), icon: <SetupIcon /> },
          { to: '/admin/people', label: t('con.nav.people'), icon: <PeopleIcon /> },
          { to: '/admin/ops', label: t('con.nav.ops'), icon: <WrenchIcon /> },
        ]}
        user={{ name: me.name, detail: me.externalId }}
        onLogout={() => void logout().then(() => navigate('/admin', { replace: true }))}
        zoneSettings="/preferences#timezone"
      >
        <ReferenceDataProvider>{children}</ReferenceDataProvider>
      </AppShell>
    </div>
  );
}
