import { SourceEditor } from "@/components/sources/source-editor.tsx";

export default async function EditSourcePage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return <SourceEditor sourceId={id} />;
}
