import { AlertsList } from "@/components/alerts/alerts-list.tsx";

export default function AlertsPage() {
  return <AlertsList />;
}
