import { TRANSFORMS } from "./transforms.ts";

export function renderTransformsDoc(): string {
  const rows = [...TRANSFORMS.values()].map(
    (t) => `| \`${t.name}\` | ${t.summary} | ${t.accepts === "any" ? "any" : t.accepts.join(", ")} | \`${t.example.replaceAll("|", "\\|")}\` |`,
  );
  return `# Mapping transforms

Generated from \`server/mapping/transforms.ts\` by \`npm run docs:transforms\`; the console shows the same text.

A field's \`transform\` is a name (\`"json_parse"\`), an object with arguments
(\`{"name": "default", "value": 0}\`), or a chain of either applied in order
(\`["trim", "lowercase"]\`). NULL passes through every transform except \`default\`, \`constant\` and
\`template\`. A transform that fails on a row is a DATA error for that record only: the record is
reported (and, with dead letters, kept for replay) and the run goes on.

| transform | what it does | takes | example |
|---|---|---|---|
${rows.join("\n")}

Value kinds come from the column's type (docs/types.md): text, number, boolean, json, time, array,
bytes. Saving a mapping checks that each transform accepts what the previous step produces.
`;
}
