import { useEffect } from 'react';

/** Sets the tab's title (with an unread count in front when there is one). */
export function useDocumentTitle(title: string, count = 0): void {
  useEffect(() => {
    document.title = count > 0 ? `(${count > 99 ? '99+' : count}) ${title}` : title;
  }, [title, count]);
}
