import { MappingEditor } from "@/components/mapping/mapping-editor.tsx";

export default async function MappingPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <MappingEditor sourceId={id} />;
}
