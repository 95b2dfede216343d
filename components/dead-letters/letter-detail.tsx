"use client";
// One dead letter: its error and where it failed in the mapping (a link that opens the mapping
// there), the record as it was, and replay or discard.
import Link from "next/link";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/api/root.ts";
import { Button } from "../ui/button.tsx";
import { Card } from "../ui/card.tsx";

type Letter = inferRouterOutputs<AppRouter>["deadLetters"]["get"];

export function DeadLetterDetail({ open, letter, canEdit, onReplay, onDiscard }: { open: boolean; letter: Letter | undefined; canEdit: boolean; onReplay: (id: string) => void; onDiscard: (id: string) => void }) {
  return (
    <Card title="Detail" className="lg:col-span-2">
      {!open ? <p className="text-[13px] text-muted">Select a key to see the record, the error and where it failed in the mapping.</p> : null}
      {letter ? (
        <div className="space-y-3 text-[13px]" data-testid="dead-letter-detail">
          <div>
            <p className="font-medium">Error</p>
            <p className="text-red-800">{letter.error.message}</p>
            <p className="mt-1 text-xs text-muted">
              field <code className="font-mono">{letter.error.field ?? "—"}</code> · transform <code className="font-mono">{letter.error.transform ?? "—"}</code> · mapping v
              {letter.mapping_version} · attempts {letter.attempts}
            </p>
            <Link
              href={`/sources/${letter.source_id}/mapping?${new URLSearchParams({ entity: letter.entity, ...(letter.error.field ? { field: letter.error.field } : {}) })}`} className="text-xs text-accent hover:underline">
              Open the mapping at {letter.error.field ?? "this entity"}
            </Link>
          </div>
          <div>
            <p className="font-medium">Record</p>
            <pre className="max-h-72 overflow-auto rounded bg-zinc-50 p-2 font-mono text-[11px]">{JSON.stringify(letter.payload, null, 2)}</pre>
          </div>
          {letter.outcome ? <p className="text-xs text-muted">Outcome: {letter.outcome}</p> : null}
          <div className="flex gap-2">
            <Button variant="secondary" disabled={!canEdit || letter.status !== "open"} onClick={() => onReplay(letter.id)}>
              Replay
            </Button>
            <Button variant="danger" disabled={!canEdit || letter.status !== "open"} onClick={() => onDiscard(letter.id)}>
              Discard
            </Button>
          </div>
        </div>
      ) : null}
    </Card>
  );
}
