import { handleApiRequest } from "@/server/http/handler.ts";

export const dynamic = "force-dynamic";
const handler = (req: Request) => handleApiRequest(req);
export { handler as GET, handler as POST, handler as PATCH, handler as PUT, handler as DELETE };
