import { useEffect, useState } from 'preact/hooks';
import type { Chat } from './chat';

/** Re-renders the component whenever the chat changes. */
export function useChat(chat: Chat): Chat {
  const [, setVersion] = useState(chat.version);
  useEffect(() => chat.subscribe(() => setVersion(chat.version)), [chat]);
  return chat;
}
