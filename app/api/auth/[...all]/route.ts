import { auth } from "@/server/auth/auth.ts";

export const dynamic = "force-dynamic";
const handler = (req: Request) => auth().handler(req);
export { handler as GET, handler as POST };
