import { useEffect, useState } from 'preact/hooks';
import { store } from './store';

/** Re-renders the component whenever the store changes. */
export function useStore(): typeof store {
  const [, setVersion] = useState(store.version);
  useEffect(() => store.subscribe(() => setVersion(store.version)), []);
  return store;
}
