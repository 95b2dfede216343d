import { AuditLog } from "@/components/audit/audit-log.tsx";

export default function AuditPage() {
  return <AuditLog />;
}
