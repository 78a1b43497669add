import { useStore } from '../hooks';
import { ChatList } from './ChatList';
import { ClientPanel } from './ClientPanel';
import { Conversation } from './Conversation';

export function Workspace() {
  const s = useStore();
  const chat = s.selected ? s.chats.get(s.selected) : undefined;
  return (
    <div class="workspace">
      <ChatList />
      <Conversation />
      {chat && <ClientPanel chat={chat} />}
    </div>
  );
}
