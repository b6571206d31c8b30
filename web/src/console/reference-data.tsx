import { createContext, useContext, useMemo, type ReactNode } from 'react';
import type { Category, Source } from '../api/console-types';
import { useConsoleApi } from './operator-session';
import { useResource, type Resource } from './use-resource';

interface ReferenceData {
  readonly categories: Resource<readonly Category[]>;
  readonly sources: Resource<readonly Source[]>;
}

const ReferenceContext = createContext<ReferenceData | null>(null);

/**
 * Categories and sources, which most screens name (a message's "教务处 · 考试提醒"): loaded once
 * for the console and reloaded by the screens that change them.
 */
export function ReferenceDataProvider({ children }: { children: ReactNode }) {
  const api = useConsoleApi();
  const categories = useResource('categories', async () => (await api.categories()).items);
  const sources = useResource('sources', async () => (await api.sources()).items);
  const value = useMemo(() => ({ categories, sources }), [categories, sources]);
  return <ReferenceContext.Provider value={value}>{children}</ReferenceContext.Provider>;
}

function useReference(): ReferenceData {
  const value = useContext(ReferenceContext);
  if (!value) throw new Error('outside <ReferenceDataProvider>');
  return value;
}

export const useCategories = () => useReference().categories;
export const useSources = () => useReference().sources;
