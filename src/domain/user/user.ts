/** Staff roles. Admins configure everything; supervisors act on their lines; operators on their chats. */
export const ROLES = ['admin', 'supervisor', 'operator', 'bot'] as const;
export type Role = (typeof ROLES)[number];

/** Roles a person can be given; bot users are created with their bot (POST /bots). */
export const STAFF_ROLES = ['admin', 'supervisor', 'operator'] as const;

/** The authenticated caller of an API request. */
export interface Caller {
  id: string;
  login: string;
  name: string;
  role: Role;
  tokenId: string;
}
