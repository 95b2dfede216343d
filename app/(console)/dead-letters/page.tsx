import { Suspense } from "react";
import { DeadLetterWorkbench } from "@/components/dead-letters/workbench.tsx";

export default function DeadLettersPage() {
  return (
    <Suspense>
      <DeadLetterWorkbench />
    </Suspense>
  );
}
