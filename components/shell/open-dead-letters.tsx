"use client";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "../trpc.ts";

/** The sidebar's count of open dead letters. */
export function OpenDeadLetters() {
  const trpc = useTRPC();
  const { data } = useQuery({ ...trpc.deadLetters.openCount.queryOptions({}), refetchInterval: 5000 });
  if (!data?.open) return null;
  return (
    <span className="rounded-full bg-red-100 px-1.5 text-[11px] font-medium text-red-800" aria-label={`${data.open} open dead letters`} data-testid="open-dead-letters">
      {data.open.toLocaleString()}
    </span>
  );
}
