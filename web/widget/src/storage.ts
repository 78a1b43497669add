/**
 * What the widget keeps in the host page's localStorage, under keys of its own per channel
 * (`omniline:<channelId>:…`): the anonymous visitor id, the pre-chat answers, the outbox of messages
 * not yet acknowledged (so a reload or a network drop resends them with the same uuid), the session
 * waiting for a rating. A page that forbids storage (privacy mode) still gets a working chat for
 * the life of the page.
 */

const memory = new Map<string, string>();

export class WidgetStorage {
  constructor(private readonly channelId: string) {}

  #key(name: string): string {
    return `omniline:${this.channelId}:${name}`;
  }

  get<T>(name: string): T | null {
    let raw: string | null | undefined;
    try {
      raw = localStorage.getItem(this.#key(name));
    } catch {
      raw = memory.get(this.#key(name));
    }
    if (raw == null) return null;
    try {
      return JSON.parse(raw) as T;
    } catch {
      return null;
    }
  }

  set(name: string, value: unknown): void {
    const raw = JSON.stringify(value);
    memory.set(this.#key(name), raw);
    try {
      localStorage.setItem(this.#key(name), raw);
    } catch {}
  }

  remove(name: string): void {
    memory.delete(this.#key(name));
    try {
      localStorage.removeItem(this.#key(name));
    } catch {}
  }
}

/** A random (v4) uuid; `crypto.randomUUID` exists only on https pages, `getRandomValues` everywhere. */
export function uuid(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6]! & 0x0f) | 0x40;
  b[8] = (b[8]! & 0x3f) | 0x80;
  const h = Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
