"use client";
import Link from "next/link";
import { usePathname, useRouter } from "next/navigation";
import type { ReactNode } from "react";
import { authClient } from "../auth-client.ts";
import { cn } from "../ui/cn.ts";
import { MeContext, type Me } from "./me.tsx";
import { WorkersIndicator } from "./workers-indicator.tsx";
import { ChangePasswordRequired } from "./change-password.tsx";
import { OpenDeadLetters } from "./open-dead-letters.tsx";

const NAV: { href: string; label: string; admin?: boolean; badge?: boolean }[] = [
  { href: "/sources", label: "Sources" },
  { href: "/dead-letters", label: "Dead letters", badge: true },
  { href: "/alerts", label: "Alerts" },
  { href: "/contexts", label: "Contexts" },
  { href: "/audit", label: "Audit", admin: true },
  { href: "/settings", label: "Settings", admin: true },
];

export function Shell({ me, children }: { me: Me; children: ReactNode }) {
  const pathname = usePathname();
  const router = useRouter();
  async function signOut() {
    await authClient.signOut();
    router.replace("/login");
    router.refresh();
  }
  return (
    <MeContext.Provider value={me}>
      {/* A sidebar from md up; on a phone the same navigation is a bar across the top. */}
      <div className="flex min-h-screen flex-col md:flex-row">
        <aside className="flex w-full shrink-0 flex-col border-b border-line bg-surface md:sticky md:top-0 md:h-screen md:w-52 md:border-b-0 md:border-r">
          <Link href="/sources" className="flex items-center gap-2 px-4 py-3 md:py-4">
            <span className="flex h-7 w-7 items-center justify-center rounded-md bg-accent text-[13px] font-semibold text-white">E</span>
            <span className="font-semibold tracking-tight">ECM Connect</span>
          </Link>
          <nav aria-label="Main" className="flex gap-1 overflow-x-auto px-2 pb-2 md:block md:flex-1 md:space-y-0.5 md:pb-0">
            {NAV.filter((n) => !me.mustChangePassword && (!n.admin || me.role === "admin")).map((n) => (
              <Link
                key={n.href}
                href={n.href}
                aria-current={pathname.startsWith(n.href) ? "page" : undefined}
                className={cn(
                  "block shrink-0 rounded-md px-2.5 py-1.5 text-[13px]",
                  pathname.startsWith(n.href) ? "bg-zinc-100 font-medium text-ink" : "text-muted hover:bg-zinc-50 hover:text-ink",
                )}
              >
                <span className="flex items-center justify-between gap-2">
                  {n.label}
                  {n.badge ? <OpenDeadLetters /> : null}
                </span>
              </Link>
            ))}
          </nav>
          {me.mustChangePassword ? null : (
            <div className="hidden border-t border-line p-3 md:block">
              <WorkersIndicator />
            </div>
          )}
        </aside>
        <div className="flex min-w-0 flex-1 flex-col">
          <header className="flex min-h-12 flex-wrap items-center justify-end gap-x-3 border-b border-line bg-surface px-3 py-1 md:px-6">
            <span className="min-w-0 truncate text-[13px] text-muted" data-testid="current-user">
              {me.name} · <span className="font-medium text-ink">{me.role}</span>
            </span>
            <button onClick={signOut} className="rounded-md px-2 py-1 text-[13px] text-muted hover:bg-zinc-100 hover:text-ink">
              Sign out
            </button>
          </header>
          <main className="mx-auto w-full min-w-0 max-w-6xl flex-1 px-3 py-4 md:px-6 md:py-6">{me.mustChangePassword ? <ChangePasswordRequired /> : children}</main>
        </div>
      </div>
    </MeContext.Provider>
  );
}
