import { useEffect, useId, useRef, type ReactNode } from 'react';
import { NavLink } from 'react-router';
import { useI18n } from '../i18n/i18n-provider';
import { CloseIcon } from './console-icons';
import { deliveryStatusLabel, messageStatusLabel, statusTone } from './labels';

/** The head of a console page: title, a line under it, and the page's actions. */
export function PageHead({
  title,
  sub,
  actions,
  id,
}: {
  readonly title: string;
  readonly sub?: ReactNode;
  readonly actions?: ReactNode;
  readonly id?: string;
}) {
  return (
    <div className="cpage-head">
      <div className="cpage-head-text">
        <h1 className="page-title" id={id}>
          {title}
        </h1>
        {sub && <div className="page-sub">{sub}</div>}
      </div>
      {actions && <div className="cpage-actions">{actions}</div>}
    </div>
  );
}

/** Tabs between the pages of one nav section (categories | sources …). */
export function SubTabs({ tabs }: { readonly tabs: readonly { to: string; label: string }[] }) {
  return (
    <nav className="subtabs">
      {tabs.map((tab) => (
        <NavLink key={tab.to} to={tab.to} className="subtab">
          {tab.label}
        </NavLink>
      ))}
    </nav>
  );
}

export function DeliveryStatus({ status }: { readonly status: string }) {
  const i18n = useI18n();
  return (
    <span className={`status status-${statusTone(status)}`} data-status={status}>
      {deliveryStatusLabel(i18n, status)}
    </span>
  );
}

export function MessageStatusTag({ status }: { readonly status: string }) {
  const i18n = useI18n();
  return (
    <span className={`status status-${statusTone(status)}`} data-status={status}>
      {messageStatusLabel(i18n, status)}
    </span>
  );
}

/** "Load more" under a list, or the end of it. */
export function LoadMore({
  hasMore,
  loading,
  onMore,
  count,
}: {
  readonly hasMore: boolean;
  readonly loading: boolean;
  readonly onMore: () => void;
  readonly count: number;
}) {
  const { t } = useI18n();
  if (count === 0) return null;
  return (
    <div className="list-foot">
      {hasMore ? (
        <button type="button" className="button button-small" onClick={onMore} disabled={loading}>
          {loading ? t('state.loading') : t('con.list.more')}
        </button>
      ) : (
        <span className="muted">{t('con.list.end', { count })}</span>
      )}
    </div>
  );
}

/**
 * A modal dialog (the native <dialog>: focus kept inside, Esc closes). Used for what needs the
 * operator's full attention: a new API key's secret, a confirmation before sending.
 */
export function Modal({
  title,
  onClose,
  children,
  actions,
}: {
  readonly title: string;
  readonly onClose: () => void;
  readonly children: ReactNode;
  readonly actions?: ReactNode;
}) {
  const ref = useRef<HTMLDialogElement>(null);
  const titleId = useId();
  const { t } = useI18n();
  useEffect(() => {
    const dialog = ref.current;
    if (dialog && !dialog.open) dialog.showModal();
    return () => dialog?.close();
  }, []);
  return (
    <dialog
      ref={ref}
      className="modal"
      aria-labelledby={titleId}
      onCancel={(e) => {
        e.preventDefault();
        onClose();
      }}
    >
      <div className="modal-head">
        <h2 id={titleId} className="modal-title">
          {title}
        </h2>
        <button
          type="button"
          className="icon-button"
          onClick={onClose}
          aria-label={t('con.close')}
          title={t('con.close')}
        >
          <CloseIcon />
        </button>
      </div>
      <div className="modal-body">{children}</div>
      {actions && <div className="modal-actions">{actions}</div>}
    </dialog>
  );
}

/** Label over value pairs, for a record's facts (never raw JSON). */
export function Facts({
  items,
}: {
  readonly items: readonly (readonly [string, ReactNode] | null | false)[];
}) {
  return (
    <dl className="facts">
      {items.map(
        (item) =>
          item && (
            <div key={item[0]} className="fact">
              <dt>{item[0]}</dt>
              <dd>{item[1]}</dd>
            </div>
          ),
      )}
    </dl>
  );
}

/** A value of message data or a payload, shown as text: lists joined, objects as their fields. */
export function DataValue({ value }: { readonly value: unknown }) {
  const { t } = useI18n();
  if (value === null || value === undefined || value === '')
    return <span className="muted">{t('con.none')}</span>;
  if (Array.isArray(value)) {
    return (
      <ul className="data-list">
        {value.map((v, i) => (
          <li key={i}>
            <DataValue value={v} />
          </li>
        ))}
      </ul>
    );
  }
  if (typeof value === 'object') {
    return (
      <dl className="data-object">
        {Object.entries(value as Record<string, unknown>).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>
              <DataValue value={v} />
            </dd>
          </div>
        ))}
      </dl>
    );
  }
  if (typeof value === 'boolean') return <>{value ? t('con.yes') : t('con.no')}</>;
  return <span className="pre-wrap">{String(value)}</span>;
}
