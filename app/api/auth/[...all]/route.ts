import { auth } from "@/server/auth/auth.ts";
import { guardedAuth } from "@/server/auth/sign-in-guard.ts";

export const dynamic = "force-dynamic";
const handler = (req: Request) => guardedAuth(req, (r) => auth().handler(r));
export { handler as GET, handler as POST };
