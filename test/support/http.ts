// Calls the public API in-process, through the same handler Next serves /api/v1 with.
import { createToken } from "../../server/auth/tokens.ts";
import { handleApiRequest } from "../../server/http/handler.ts";

export type ApiResult = { status: number; body: any; text: string; headers: Headers };

export async function api(method: string, path: string, opts: { token?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<ApiResult> {
  const headers: Record<string, string> = { "content-type": "application/json", ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await handleApiRequest(
    new Request(`http://localhost:3999/api/v1${path}`, {
      method,
      headers,
      body: opts.rawBody ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
    }),
  );
  const text = await res.text();
  return { status: res.status, text, body: text ? JSON.parse(text) : null, headers: res.headers };
}

export const adminToken = () => process.env.ECM_API_TOKEN!;

/** An editor's API token, made by the operator's token (ECM_API_TOKEN). */
export async function createEditorToken(): Promise<string> {
  const system = { kind: "token" as const, id: "env", name: "ECM_API_TOKEN", role: "admin" as const };
  return (await createToken({ name: "e", role: "editor" }, system)).token;
}
