// A small line chart for a series of recent samples (no chart library: an SVG path), with the
// latest value as text so the figure is readable without the picture.
export function Sparkline({ label, values, format }: { label: string; values: number[]; format: (v: number) => string }) {
  const w = 240;
  const h = 40;
  const max = Math.max(1e-9, ...values);
  const points = values.map((v, i) => `${values.length === 1 ? w : (i / (values.length - 1)) * w},${h - (v / max) * (h - 2) - 1}`);
  const last = values[values.length - 1];
  return (
    <figure className="rounded-md border border-line p-2">
      <figcaption className="mb-1 flex justify-between text-xs text-muted">
        <span>{label}</span>
        <span className="tabular-nums text-ink">{last === undefined ? "—" : format(last)}</span>
      </figcaption>
      <svg viewBox={`0 0 ${w} ${h}`} className="h-10 w-full" role="img" aria-label={`${label}: ${last === undefined ? "no samples yet" : format(last)}`}>
        {points.length > 1 ? <polyline points={points.join(" ")} fill="none" stroke="currentColor" strokeWidth="1.5" className="text-accent" /> : null}
      </svg>
    </figure>
  );
}
