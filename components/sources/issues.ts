// Field-path issues from a tRPC error (see errorFormatter in server/api/trpc.ts).
export type Issue = { path: string; message: string };

export function issuesFrom(error: unknown): Issue[] {
  const data = (error as { data?: { issues?: Issue[] } } | null)?.data;
  return data?.issues ?? [];
}

export function byPath(issues: Issue[]): Record<string, string> {
  return Object.fromEntries(issues.map((i) => [i.path, i.message]));
}
