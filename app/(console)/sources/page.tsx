import { SourcesList } from "@/components/sources/sources-list.tsx";

export default function SourcesPage() {
  return <SourcesList />;
}
