import { auth } from "@/server/auth/auth.ts";
import { guardedSignIn } from "@/server/auth/sign-in-guard.ts";

export const dynamic = "force-dynamic";
const handler = (req: Request) => guardedSignIn(req, (r) => auth().handler(r));
export { handler as GET, handler as POST };
