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
      <div className="flex min-h-screen">
        <aside className="sticky top-0 flex h-screen w-52 shrink-0 flex-col border-r border-line bg-surface">
          <Link href="/sources" className="flex items-center gap-2 px-4 py-4">
            <span className="flex h-7 w-7 items-center justify-center rounded-md bg-accent text-[13px] font-semibold text-white">E</span>
            <span className="font-semibold tracking-tight">ECM Connect</span>
          </Link>
          <nav aria-label="Main" className="flex-1 space-y-0.5 px-2">
            {NAV.filter((n) => !me.mustChangePassword && (!n.admin || me.role === "admin")).map((n) => (
              <Link
                key={n.href}
                href={n.href}
                aria-current={pathname.startsWith(n.href) ? "page" : undefined}
                className={cn(
                  "block rounded-md px-2.5 py-1.5 text-[13px]",
                  pathname.startsWith(n.href) ? "bg-zinc-100 font-medium text-ink" : "text-muted hover:bg-zinc-50 hover:text-ink",
                )}
              >
                <span className="flex items-center justify-between">
                  {n.label}
                  {n.badge ? <OpenDeadLetters /> : null}
                </span>
              </Link>
            ))}
          </nav>
          {me.mustChangePassword ? null : (
            <div className="border-t border-line p-3">
              <WorkersIndicator />
            </div>
          )}
        </aside>
        <div className="flex min-w-0 flex-1 flex-col">
          <header className="flex h-12 items-center justify-end gap-3 border-b border-line bg-surface px-6">
            <span className="text-[13px] text-muted" data-testid="current-user">
              {me.name} · <span className="font-medium text-ink">{me.role}</span>
            </span>
            <button onClick={signOut} className="rounded-md px-2 py-1 text-[13px] text-muted hover:bg-zinc-100 hover:text-ink">
              Sign out
            </button>
          </header>
          <main className="mx-auto w-full max-w-6xl flex-1 px-6 py-6">{me.mustChangePassword ? <ChangePasswordRequired /> : children}</main>
        </div>
      </div>
    </MeContext.Provider>
  );
}
