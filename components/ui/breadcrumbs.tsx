import Link from "next/link";
import type { ReactNode } from "react";

/** Where a page sits inside a source: Sources / <source> / … */
export function Breadcrumbs({ items }: { items: { label: ReactNode; href?: string }[] }) {
  return (
    <nav aria-label="Breadcrumb" className="mb-2 text-xs text-muted">
      {items.map((item, i) => (
        <span key={i}>
          {i > 0 ? " / " : null}
          {item.href ? (
            <Link href={item.href} className="hover:text-ink">
              {item.label}
            </Link>
          ) : (
            <span className="text-ink">{item.label}</span>
          )}
        </span>
      ))}
    </nav>
  );
}
