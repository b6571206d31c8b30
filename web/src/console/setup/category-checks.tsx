import { useI18n } from '../../i18n/i18n-provider';
import { useCategories } from '../reference-data';

/** Every category as a checkbox chip: what a source may send. */
export function CategoryChecks({
  value,
  onChange,
}: {
  readonly value: readonly string[];
  readonly onChange: (next: readonly string[]) => void;
}) {
  const i18n = useI18n();
  const categories = useCategories().data ?? [];
  return (
    <div className="checks">
      {categories.map((c) => (
        <label key={c.key} className="check-chip">
          <input
            type="checkbox"
            name="category"
            value={c.key}
            checked={value.includes(c.key)}
            onChange={(e) =>
              onChange(e.target.checked ? [...value, c.key] : value.filter((x) => x !== c.key))
            }
          />
          {i18n.pick(c.name, c.key)}
        </label>
      ))}
    </div>
  );
}
