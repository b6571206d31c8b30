import type { ReactNode } from 'react';
import { Link, NavLink } from 'react-router';
import { useI18n } from '../i18n/i18n-provider';
import { LanguageSwitch } from './language-switch';
import { LogoMark, LogoutIcon } from './icons';
import { ZoneHint } from './zone-hint';

export interface NavItem {
  readonly to: string;
  readonly label: string;
  readonly icon?: ReactNode;
  /** A count shown beside the label (unread messages, dead letters …); hidden at 0. */
  readonly badge?: number;
  /** Active only on exactly this path (not below it). */
  readonly end?: boolean;
}

export interface AppShellProps {
  /** The part of Herald this is: "消息中心", "运营控制台". */
  readonly area: string;
  readonly home: string;
  readonly nav: readonly NavItem[];
  /** Who is signed in, shown in the header. */
  readonly user?: { readonly name: string; readonly detail?: string };
  readonly onLogout?: () => void;
  /** Small status beside the actions (e.g. the live-connection dot). */
  readonly status?: ReactNode;
  /** A full-width line under the header (connection lost, maintenance …). */
  readonly notice?: ReactNode;
  /** Where the signed-in user changes their time zone (the header's zone hint leads there). */
  readonly zoneSettings?: string;
  readonly children: ReactNode;
}

/**
 * The frame of every signed-in screen, for the message center and the console alike: brand and
 * area, navigation with badges, the zone times are shown in (when it is not the device's),
 * language switch, the user and sign-out. On a phone the
 * navigation becomes a row of tabs under the header.
 */
export function AppShell(props: AppShellProps) {
  const { area, home, nav, user, onLogout, status, notice, zoneSettings, children } = props;
  const { t } = useI18n();
  return (
    <div className="app">
      <header className="app-header">
        <div className="app-header-inner">
          <Link to={home} className="brand">
            <LogoMark />
            <span className="brand-name">{t('app.name')}</span>
            <span className="brand-area">{area}</span>
          </Link>
          <nav className="app-nav" aria-label={t('nav.main')}>
            {nav.map((item) => (
              <NavLink key={item.to} to={item.to} end={item.end ?? false} className="app-nav-link">
                {item.icon}
                <span>{item.label}</span>
                {item.badge !== undefined && item.badge > 0 && (
                  <span className="badge" data-testid="nav-badge">
                    {item.badge > 99 ? '99+' : item.badge}
                  </span>
                )}
              </NavLink>
            ))}
          </nav>
          <div className="app-header-actions">
            {status}
            {user && <ZoneHint settings={zoneSettings} variant="chip" />}
            <LanguageSwitch />
            {user && (
              <span className="user" title={t('nav.signedInAs', { name: user.name })}>
                <span className="user-name">{user.name}</span>
                {user.detail && <span className="user-detail">{user.detail}</span>}
              </span>
            )}
            {onLogout && (
              <button
                type="button"
                className="icon-button"
                onClick={onLogout}
                aria-label={t('nav.logout')}
                title={t('nav.logout')}
              >
                <LogoutIcon />
              </button>
            )}
          </div>
        </div>
      </header>
      {user && <ZoneHint settings={zoneSettings} variant="bar" />}
      {notice}
      <main className="app-main">{children}</main>
    </div>
  );
}
