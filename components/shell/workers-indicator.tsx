"use client";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../trpc.ts";
import { cn } from "../ui/cn.ts";

export function WorkersIndicator() {
  const trpc = useTRPC();
  const { data, isError } = useQuery({ ...trpc.system.workers.queryOptions(), refetchInterval: 5000 });
  const count = data?.workers.length ?? 0;
  const ok = !isError && count > 0;
  return (
    <div data-testid="workers" className="flex items-center gap-2 text-xs text-muted" title={data?.workers.map((w) => w.id).join("\n")}>
      <span aria-hidden className={cn("h-2 w-2 rounded-full", data === undefined ? "bg-zinc-300" : ok ? "bg-emerald-500" : "bg-red-500")} />
      {data === undefined ? "Checking workers…" : ok ? `${count} worker${count === 1 ? "" : "s"} online` : "No worker online"}
    </div>
  );
}
