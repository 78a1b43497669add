/** Staff roles. Admins configure everything; supervisors act on their lines; operators on their chats. */
export const ROLES = ['admin', 'supervisor', 'operator'] as const;
export type Role = (typeof ROLES)[number];

/** The authenticated caller of an API request. */
export interface Caller {
  id: string;
  login: string;
  name: string;
  role: Role;
  tokenId: string;
}
