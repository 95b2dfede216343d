import { headers } from "next/headers";
import { redirect } from "next/navigation";
import { principalFromHeaders } from "@/server/auth/principal.ts";
import { LoginForm } from "@/components/shell/login-form.tsx";

export const dynamic = "force-dynamic";

export default async function LoginPage() {
  if (await principalFromHeaders(await headers())) redirect("/sources");
  return (
    <main className="flex min-h-screen items-center justify-center px-4">
      <div className="w-full max-w-sm">
        <div className="mb-6 text-center">
          <div className="mx-auto mb-3 flex h-10 w-10 items-center justify-center rounded-lg bg-accent font-semibold text-white">E</div>
          <h1 className="text-lg font-semibold">Sign in to ECM Connect</h1>
          <p className="mt-1 text-[13px] text-muted">The first admin&apos;s credentials were printed when the product first started.</p>
        </div>
        <LoginForm />
      </div>
    </main>
  );
}
