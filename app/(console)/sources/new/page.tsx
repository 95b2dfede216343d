import { NewSource } from "@/components/sources/new-source.tsx";

export default function NewSourcePage() {
  return <NewSource />;
}
