"use client";
// A connection-config form rendered from the connector's JSON Schema (server/connectors/registry.ts),
// so a new connector type needs no console code. Secret fields (`x_secret`) take either a
// reference (env://, file://, vault://, secret://) or a typed value sent as `x`, stored encrypted.
import { Field, Input, Select } from "../ui/field.tsx";

export type JsonSchema = {
  type?: string;
  const?: unknown;
  enum?: string[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
};
type Obj = Record<string, unknown>;

const label = (key: string) => key.replace(/_secret$/, "").replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

export function defaultsFor(schema: JsonSchema): Obj {
  const out: Obj = {};
  for (const [key, prop] of Object.entries(schema.properties ?? {})) {
    if (prop.const !== undefined) out[key] = prop.const;
    else if (prop.type === "object") out[key] = { ...((prop.default as Obj) ?? {}), ...defaultsFor(prop) };
    else if (prop.default !== undefined) out[key] = prop.default;
  }
  return out;
}

export function ConfigForm({
  schema,
  value,
  onChange,
  errors,
  secretFields,
  disabled,
}: {
  schema: JsonSchema;
  value: Obj;
  onChange: (v: Obj) => void;
  errors: Record<string, string>;
  secretFields: string[];
  disabled?: boolean;
}) {
  return (
    <div className="space-y-5">
      {Object.entries(schema.properties ?? {})
        .filter(([, s]) => s.type === "object")
        .map(([section, sectionSchema]) => (
          <fieldset key={section} className="space-y-3">
            <legend className="mb-1 text-xs font-semibold uppercase tracking-wide text-muted">{label(section)}</legend>
            <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
              {Object.entries(sectionSchema.properties ?? {}).map(([key, prop]) => {
                const path = `${section}.${key}`;
                const sectionValue = (value[section] as Obj | undefined) ?? {};
                const set = (patch: Obj) => onChange({ ...value, [section]: { ...sectionValue, ...patch } });
                if (prop.const !== undefined) return null;
                if (secretFields.includes(path)) {
                  return (
                    <SecretInput
                      key={path}
                      path={path}
                      plainKey={key.replace(/_secret$/, "")}
                      referenceKey={key}
                      section={sectionValue}
                      onChange={set}
                      error={errors[`config.${path}`] ?? errors[`config.${section}.${key.replace(/_secret$/, "")}`]}
                      description={prop.description}
                      disabled={disabled}
                    />
                  );
                }
                if (secretFields.some((f) => f === `${section}.${key}_secret`)) return null; // rendered by SecretInput
                const id = `cfg-${section}-${key}`;
                const error = errors[`config.${path}`];
                const current = sectionValue[key];
                return (
                  <Field key={path} id={id} label={label(key)} hint={prop.description} error={error}>
                    {prop.enum ? (
                      <Select id={id} value={String(current ?? "")} invalid={!!error} disabled={disabled} onChange={(e) => set({ [key]: e.target.value })}>
                        {prop.enum.map((o) => (
                          <option key={o}>{o}</option>
                        ))}
                      </Select>
                    ) : (
                      <Input
                        id={id}
                        type={prop.type === "integer" || prop.type === "number" ? "number" : "text"}
                        value={current === undefined || current === null ? "" : String(current)}
                        invalid={!!error}
                        disabled={disabled}
                        min={prop.minimum}
                        max={prop.maximum}
                        onChange={(e) => {
                          const raw = e.target.value;
                          const numeric = prop.type === "integer" || prop.type === "number";
                          set({ [key]: raw === "" ? undefined : numeric ? Number(raw) : raw });
                        }}
                      />
                    )}
                  </Field>
                );
              })}
            </div>
          </fieldset>
        ))}
    </div>
  );
}

function SecretInput({
  path,
  plainKey,
  referenceKey,
  section,
  onChange,
  error,
  description,
  disabled,
}: {
  path: string;
  plainKey: string;
  referenceKey: string;
  section: Obj;
  onChange: (patch: Obj) => void;
  error?: string;
  description?: string;
  disabled?: boolean;
}) {
  const mode = section[plainKey] !== undefined ? "value" : "reference";
  const id = `cfg-${path.replace(/\./g, "-")}`;
  return (
    <Field
      id={id}
      label={
        <span className="flex items-center justify-between">
          <span>🔒 {label(referenceKey)}</span>
          <span className="flex gap-2 text-xs font-normal">
            <label className="flex items-center gap-1">
              <input
                type="radio"
                name={`${id}-mode`}
                checked={mode === "reference"}
                disabled={disabled}
                onChange={() => onChange({ [plainKey]: undefined, [referenceKey]: "" })}
              />
              reference
            </label>
            <label className="flex items-center gap-1">
              <input
                type="radio"
                name={`${id}-mode`}
                checked={mode === "value"}
                disabled={disabled}
                onChange={() => onChange({ [referenceKey]: undefined, [plainKey]: "" })}
              />
              typed value
            </label>
          </span>
        </span>
      }
      hint={
        mode === "reference"
          ? "env://NAME, file:///path, vault://path#key, or secret://id. Leave empty when the server needs no password."
          : (description ?? "Stored AES-256-GCM encrypted; shown afterwards only as a secret:// reference.")
      }
      error={error}
    >
      {mode === "reference" ? (
        <Input
          id={id}
          value={String(section[referenceKey] ?? "")}
          placeholder="vault://db/postgres/password"
          invalid={!!error}
          disabled={disabled}
          className="font-mono"
          onChange={(e) => onChange({ [referenceKey]: e.target.value || undefined })}
        />
      ) : (
        <Input
          id={id}
          type="password"
          autoComplete="new-password"
          value={String(section[plainKey] ?? "")}
          invalid={!!error}
          disabled={disabled}
          onChange={(e) => onChange({ [plainKey]: e.target.value })}
        />
      )}
    </Field>
  );
}
