import { SourceDetail } from "@/components/sources/source-detail.tsx";

export default async function SourcePage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <SourceDetail id={id} />;
}
