// better-auth's view of our roles. Only admins get better-auth's own admin permissions (its
// /api/auth/admin/* endpoints); every product permission is checked by our procedure tiers.
// No Prisma import here: the browser's auth client imports this file.
import { createAccessControl } from "better-auth/plugins/access";
import { adminAc, defaultStatements } from "better-auth/plugins/admin/access";

export const ac = createAccessControl(defaultStatements);
export const authRoles = {
  admin: adminAc,
  editor: ac.newRole({ user: [], session: [] }),
  viewer: ac.newRole({ user: [], session: [] }),
};
