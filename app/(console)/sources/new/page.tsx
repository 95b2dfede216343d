import { SourceEditor } from "@/components/sources/source-editor.tsx";

export default function NewSourcePage() {
  return <SourceEditor />;
}
