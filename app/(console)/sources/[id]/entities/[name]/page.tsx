import { EntityDetail } from "@/components/sources/entity-detail.tsx";

export default async function EntityPage({ params }: { params: Promise<{ id: string; name: string }> }) {
  const { id, name } = await params;
  return <EntityDetail sourceId={id} name={decodeURIComponent(name)} />;
}
