import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { principalFromHeaders } from "@/server/auth/principal.ts";
import { Settings } from "@/components/settings/settings.tsx";

export default async function SettingsPage() {
  const principal = await principalFromHeaders(await headers());
  if (principal?.role !== "admin") redirect("/sources");
  return <Settings />;
}
