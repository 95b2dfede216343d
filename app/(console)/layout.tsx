import { headers } from "next/headers";
import { redirect } from "next/navigation";
import type { ReactNode } from "react";
import { principalFromHeaders } from "@/server/auth/principal.ts";
import { Shell } from "@/components/shell/shell.tsx";

export const dynamic = "force-dynamic";

export default async function ConsoleLayout({ children }: { children: ReactNode }) {
  const principal = await principalFromHeaders(await headers());
  if (!principal) redirect("/login");
  return <Shell me={{ name: principal.name, role: principal.role, mustChangePassword: !!principal.mustChangePassword }}>{children}</Shell>;
}
