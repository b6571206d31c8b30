import { useEffect, useState } from 'react';

/** The current time, renewed every `everyMs`, so that "3 分钟前" does not go stale on screen. */
export function useNow(everyMs = 30_000): Date {
  const [now, setNow] = useState(() => new Date());
  useEffect(() => {
    const timer = setInterval(() => setNow(new Date()), everyMs);
    return () => clearInterval(timer);
  }, [everyMs]);
  return now;
}
