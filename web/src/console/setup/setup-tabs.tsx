import { useI18n } from '../../i18n/i18n-provider';
import { SubTabs } from '../ui';

export function SetupTabs() {
  const { t } = useI18n();
  return (
    <SubTabs
      tabs={[
        { to: '/admin/setup/categories', label: t('con.setup.categories') },
        { to: '/admin/setup/sources', label: t('con.setup.sources') },
      ]}
    />
  );
}
