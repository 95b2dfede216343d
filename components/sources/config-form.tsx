"use client";
// A connection-config form rendered from the connector's JSON Schema (server/connectors/registry.ts),
// so a new connector type needs no console code. Secret fields (`x_secret`) take either a
// reference (env://, file://, vault://, secret://) or a typed value sent as `x`, stored encrypted.
import { Field, Input, Select } from "../ui/field.tsx";

export type JsonSchema = {
  type?: string;
  title?: string;
  const?: unknown;
  enum?: string[];
  default?: unknown;
  description?: string;
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  /** One of several objects (options.schedule: an interval or a cron expression). */
  anyOf?: JsonSchema[];
};
type Obj = Record<string, unknown>;

/** A field's label: its schema's title, else its key made readable. */
const label = (key: string, schema?: JsonSchema) => schema?.title ?? key.replace(/_secret$/, "").replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

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
            <legend className="mb-1 text-xs font-semibold uppercase tracking-wide text-muted">{label(section, sectionSchema)}</legend>
            <Fields
              path={section}
              schema={sectionSchema}
              value={(value[section] as Obj | undefined) ?? {}}
              onChange={(v) => onChange({ ...value, [section]: v })}
              errors={errors}
              secretFields={secretFields}
              disabled={disabled}
            />
          </fieldset>
        ))}
    </div>
  );
}

/** The fields of one object of the config; a nested object (options.retry) is a group of its own fields. */
function Fields({
  path: base,
  schema,
  value,
  onChange,
  errors,
  secretFields,
  disabled,
}: {
  path: string;
  schema: JsonSchema;
  value: Obj;
  onChange: (v: Obj) => void;
  errors: Record<string, string>;
  secretFields: string[];
  disabled?: boolean;
}) {
  const set = (patch: Obj) => onChange({ ...value, ...patch });
  return (
    <div className="grid grid-cols-1 gap-3 md:grid-cols-2">
      {Object.entries(schema.properties ?? {}).map(([key, prop]) => {
        const path = `${base}.${key}`;
        if (prop.const !== undefined) return null;
        if (prop.type === "object") {
          const nested = (value[key] as Obj | undefined) ?? {};
          return (
            <fieldset key={path} className="space-y-2 rounded-md border border-line p-3 md:col-span-2">
              <legend className="px-1 text-sm font-medium">{label(key, prop)}</legend>
              {prop.description ? <p className="text-xs text-muted">{prop.description}</p> : null}
              <Fields
                path={path}
                schema={prop}
                value={nested}
                onChange={(v) => set({ [key]: Object.values(v).some((x) => x !== undefined) ? v : undefined })}
                errors={errors}
                secretFields={secretFields}
                disabled={disabled}
              />
            </fieldset>
          );
        }
        if (prop.anyOf?.length) {
          return (
            <OneOf key={path} path={path} name={label(key, prop)} schema={prop} value={value[key] as Obj | undefined} onChange={(v) => set({ [key]: v })} errors={errors} secretFields={secretFields} disabled={disabled} />
          );
        }
        if (secretFields.includes(path)) {
          return (
            <SecretInput
              key={path}
              path={path}
              title={label(key, prop)}
              plainKey={key.replace(/_secret$/, "")}
              referenceKey={key}
              section={value}
              onChange={set}
              error={errors[`config.${path}`] ?? errors[`config.${base}.${key.replace(/_secret$/, "")}`]}
              description={prop.description}
              disabled={disabled}
            />
          );
        }
        if (secretFields.some((f) => f === `${path}_secret`)) return null; // rendered by SecretInput
        const id = `cfg-${path.replace(/\./g, "-")}`;
        const error = errors[`config.${path}`];
        const current = value[key];
        return (
          <Field key={path} id={id} label={label(key, prop)} hint={prop.description} error={error}>
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
  );
}

/** An alternative's fields, unset but present (so it stays the chosen one), with its defaults. */
const emptyOf = (schema: JsonSchema): Obj => ({ ...Object.fromEntries(Object.keys(schema.properties ?? {}).map((k) => [k, undefined])), ...defaultsFor(schema) });

/** A choice among objects (none, or one alternative and its fields), e.g. a schedule by interval or by cron. */
function OneOf({
  path,
  name,
  schema,
  value,
  onChange,
  errors,
  secretFields,
  disabled,
}: {
  path: string;
  name: string;
  schema: JsonSchema;
  value: Obj | undefined;
  onChange: (v: Obj | undefined) => void;
  errors: Record<string, string>;
  secretFields: string[];
  disabled?: boolean;
}) {
  const options = schema.anyOf!.filter((o) => o.type === "object");
  // The chosen alternative: the first whose fields the value has.
  const chosen = value ? options.findIndex((o) => Object.keys(o.properties ?? {}).some((k) => k in value)) : -1;
  const id = `cfg-${path.replace(/\./g, "-")}`;
  return (
    <fieldset className="space-y-2 rounded-md border border-line p-3 md:col-span-2">
      <legend className="px-1 text-sm font-medium">{name}</legend>
      {schema.description ? <p className="text-xs text-muted">{schema.description}</p> : null}
      <Field id={id} label={`${name}: kind`} error={errors[`config.${path}`]}>
        <Select id={id} value={String(chosen)} disabled={disabled} onChange={(e) => onChange(Number(e.target.value) < 0 ? undefined : emptyOf(options[Number(e.target.value)]!))}>
          <option value="-1">None</option>
          {options.map((o, i) => (
            <option key={i} value={i}>
              {o.title ?? Object.keys(o.properties ?? {}).join(", ")}
            </option>
          ))}
        </Select>
      </Field>
      {chosen >= 0 ? <Fields path={path} schema={options[chosen]!} value={value ?? {}} onChange={onChange} errors={errors} secretFields={secretFields} disabled={disabled} /> : null}
    </fieldset>
  );
}

function SecretInput({
  path,
  title,
  plainKey,
  referenceKey,
  section,
  onChange,
  error,
  description,
  disabled,
}: {
  path: string;
  title: string;
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
          <span className="flex items-center gap-1">
            <LockIcon />
            {title}
          </span>
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

/** A padlock drawn in SVG (an emoji would need a font the system may not have). */
function LockIcon() {
  return (
    <svg aria-hidden="true" viewBox="0 0 16 16" className="h-3.5 w-3.5 fill-current text-muted">
      <path d="M4.5 7V5a3.5 3.5 0 0 1 7 0v2h.5A1 1 0 0 1 13 8v6a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1h.5Zm1.5 0h4V5a2 2 0 1 0-4 0v2Z" />
    </svg>
  );
}
