/** The operator's picture when there is one (an http(s) URL or a path on the server), else their initials. */
import { safeUrl } from '../url';

export function Avatar({ name, url, base }: { name: string; url: string | null; base: string }) {
  const src = url ? safeUrl(url, base) : null;
  const initials = name
    .split(/\s+/)
    .filter(Boolean)
    .slice(0, 2)
    .map((w) => w[0]!.toUpperCase())
    .join('');
  return src ? (
    <img class="avatar" src={src} alt="" data-testid="avatar" />
  ) : (
    <span class="avatar" aria-hidden="true" data-testid="avatar">
      {initials || '?'}
    </span>
  );
}
