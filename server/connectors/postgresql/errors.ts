// PostgreSQL's errors as the pipeline's categories: its SQLSTATEs, read with the same table the
// store's own errors are (server/errors/classify.ts; the store is PostgreSQL too), as a source's.
import { sqlStateCategory } from "../../errors/classify.ts";
import type { SourceClassifier } from "../../errors/origin.ts";

export const classifyPostgresError: SourceClassifier = (error) => {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? sqlStateCategory(code, "source") : null;
};
