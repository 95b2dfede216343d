import type { Issue } from "../sources/issues.ts";
import { ErrorBox } from "./card.tsx";

/** Field-path problems from the server, one line each: `config.connection.port: …`. */
export function IssueList({ title, issues, testId }: { title: string; issues: Issue[]; testId: string }) {
  return (
    <ErrorBox title={title}>
      <ul className="mt-1 space-y-0.5" data-testid={testId}>
        {issues.map((i) => (
          <li key={i.path + i.message}>
            <code className="font-mono text-xs">{i.path}</code>: {i.message}
          </li>
        ))}
      </ul>
    </ErrorBox>
  );
}
