/**
 * The reply window, a capability the messenger providers share (WhatsApp Cloud API, Messenger,
 * Instagram): a business may write free-form only within `hours` of the client's last message.
 * Outside it the send API refuses a reply at once with 409 `WINDOW_CLOSED` (instead of a message
 * that fails later), naming when the window closed and whether a template send is offered — the
 * way back in is an approved template (`POST /sessions/:id/messages {"template": {...}}`) where the
 * provider sends templates, or Messenger's `HUMAN_AGENT` tag (7 days) where the page may use it.
 *
 * One implementation: a provider declares its `replyWindow`; the outbound pipeline asks
 * `replyWindowState` and tells the provider whether its send is inside the window or tagged.
 */
import { InvalidField } from '../errors.ts';

export interface ReplyWindowPolicy {
  /** Free-form replies are allowed this long after the client's last message. */
  hours: number;
  /** A longer window the channel's settings allow with a tag (Messenger HUMAN_AGENT: 168 h), or null. */
  taggedHours?(settings: Record<string, unknown>): number | null;
}

export interface ReplyWindowState {
  open: boolean;
  /** Open only through the tag's longer window. */
  tagged: boolean;
  /** When free-form replies stop (or stopped) being allowed; null when the client never wrote. */
  closesAt: Date | null;
}

const HOUR = 3_600_000;

export function replyWindowState(
  policy: ReplyWindowPolicy,
  settings: Record<string, unknown>,
  lastClientMessageAt: Date | null,
  now: Date,
): ReplyWindowState {
  if (!lastClientMessageAt) return { open: false, tagged: false, closesAt: null };
  const standard = lastClientMessageAt.getTime() + policy.hours * HOUR;
  if (now.getTime() < standard) return { open: true, tagged: false, closesAt: new Date(standard) };
  const taggedHours = policy.taggedHours?.(settings) ?? null;
  if (taggedHours !== null) {
    const tagged = lastClientMessageAt.getTime() + taggedHours * HOUR;
    if (now.getTime() < tagged) return { open: true, tagged: true, closesAt: new Date(tagged) };
    return { open: false, tagged: false, closesAt: new Date(tagged) };
  }
  return { open: false, tagged: false, closesAt: new Date(standard) };
}

/** A message template (WhatsApp: an approved template of the business account). */
export interface MessageTemplate {
  name: string;
  language: string;
  /** The template's parameters as the messenger takes them (WhatsApp `components`). */
  components: Record<string, unknown>[];
}

const NAME = /^[a-z0-9_]{1,512}$/;
const LANGUAGE = /^[a-z]{2,3}(?:_[A-Z]{2})?$/;

/** Checks a `template` of a send body; errors name the field. */
export function parseTemplate(value: unknown): MessageTemplate {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InvalidField('body.template', 'must be an object {name, language, components}');
  }
  const { name, language, components, ...rest } = value as Record<string, unknown>;
  const extra = Object.keys(rest)[0];
  if (extra) throw new InvalidField(`body.template.${extra}`, 'is not an allowed property');
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new InvalidField('body.template.name', 'is required: lower-case letters, digits and _');
  }
  if (typeof language !== 'string' || !LANGUAGE.test(language)) {
    throw new InvalidField('body.template.language', 'is required: a language code like "en" or "en_US"');
  }
  if (components !== undefined && (!Array.isArray(components) || components.length > 20)) {
    throw new InvalidField('body.template.components', 'must be an array of at most 20 components');
  }
  const list = (components ?? []) as unknown[];
  list.forEach((c, i) => {
    if (
      typeof c !== 'object' ||
      c === null ||
      Array.isArray(c) ||
      typeof (c as { type?: unknown }).type !== 'string'
    ) {
      throw new InvalidField(`body.template.components[${i}]`, 'must be an object with a "type"');
    }
  });
  return { name, language, components: list as Record<string, unknown>[] };
}

/** The text a template message shows in the history. */
export function templateText(t: MessageTemplate): string {
  return `[template ${t.name} (${t.language})]`;
}
