import { Link } from 'react-router';
import { useI18n } from '../i18n/i18n-provider';
import { EmptyState } from './states';

export function NotFound({ home }: { readonly home: string }) {
  const { t } = useI18n();
  return (
    <div className="page">
      <EmptyState
        title={t('state.notFound.title')}
        action={
          <Link to={home} className="button">
            {t('state.backHome')}
          </Link>
        }
      >
        {t('state.notFound.body')}
      </EmptyState>
    </div>
  );
}
