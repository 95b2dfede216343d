"use client";
import { Badge } from "../ui/badge.tsx";

export type Check = { name: string; status: "pass" | "warn" | "fail"; message: string; hint?: string };
const TONE = { pass: "green", warn: "amber", fail: "red" } as const;
// Each connector type names its own checks; these read better, any other shows its name.
const LABEL = new Map<string, string>([
  ["reachable", "Reachable"],
  ["tls", "TLS"],
  ["authenticated", "Authenticated"],
  ["database_exists", "Database exists"],
  ["server_version", "Server version"],
  ["wal_level", "wal_level = logical"],
  ["replication_privilege", "Replication privilege"],
  ["select_privilege", "SELECT on tables"],
  ["publication", "Publication"],
  ["replication_slot", "Replication slot"],
  ["log_bin", "Binary log on"],
  ["binlog_format", "binlog_format = ROW"],
  ["binlog_row_image", "binlog_row_image = FULL"],
  ["binlog_row_metadata", "binlog_row_metadata = FULL"],
  ["binlog_retention", "Binlog retention"],
  ["binlog_compression", "Binlog compression off"],
]);

export function HealthChecks({ checks }: { checks: Check[] }) {
  return (
    <ul className="divide-y divide-line" data-testid="health-checks">
      {checks.map((c) => (
        <li key={c.name} className="flex items-start gap-3 py-2" data-check={c.name} data-status={c.status}>
          <Badge tone={TONE[c.status]}>{c.status}</Badge>
          <div className="min-w-0 flex-1">
            <p className="text-[13px] font-medium">{LABEL.get(c.name) ?? c.name}</p>
            <p className="break-words text-xs text-muted">{c.message}</p>
            {c.hint ? (
              <div className="mt-1 flex flex-wrap items-center gap-2">
                <code className="min-w-0 break-all rounded bg-zinc-100 px-1.5 py-0.5 font-mono text-[11px]">{c.hint}</code>
                <button type="button" className="text-xs text-accent hover:underline" onClick={() => navigator.clipboard?.writeText(c.hint!)}>
                  Copy
                </button>
              </div>
            ) : null}
          </div>
        </li>
      ))}
    </ul>
  );
}
