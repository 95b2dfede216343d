import { Suspense } from "react";
import { ContextsBrowser } from "@/components/contexts/contexts-browser.tsx";

export default function ContextsPage() {
  return (
    <Suspense>
      <ContextsBrowser />
    </Suspense>
  );
}
