import { handleReadyRequest } from "@/server/metrics/scrape.ts";

export const dynamic = "force-dynamic";
export const GET = (req: Request) => handleReadyRequest(req);
