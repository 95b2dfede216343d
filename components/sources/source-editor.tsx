"use client";
// Adding a source, or editing one: the connection form generated from the connector's JSON Schema,
// or the specification's JSON (pasted, imported from a file), tested before it is saved.
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useRouter } from "next/navigation";
import { Tabs } from "radix-ui";
import { useState } from "react";
import { needsRole, useCan } from "../shell/me.tsx";
import { useTRPC } from "../trpc.ts";
import { Button } from "../ui/button.tsx";
import { Card, ErrorBox, PageHeader, Skeleton } from "../ui/card.tsx";
import { Field, Input, Select, Textarea } from "../ui/field.tsx";
import { ConfigForm, defaultsFor, type JsonSchema } from "./config-form.tsx";
import { HealthChecks } from "./health-panel.tsx";
import { IssueList } from "../ui/issue-list.tsx";
import { ImportJsonButton } from "../ui/import-json.tsx";
import { byPath, issuesFrom } from "./issues.ts";
import { SPEC_EXAMPLE_CONFIG } from "./spec-example.ts";

type Obj = Record<string, unknown>;
const tabClass =
  "border-b-2 border-transparent px-3 py-2 text-[13px] text-muted data-[state=active]:border-accent data-[state=active]:font-medium data-[state=active]:text-ink";

/** Add a source, or (with sourceId) edit one: same form, same validation, same test. */
export function SourceEditor({ sourceId }: { sourceId?: string }) {
  const trpc = useTRPC();
  const existing = useQuery({ ...trpc.sources.get.queryOptions({ id: sourceId ?? "00000000-0000-0000-0000-000000000000" }), enabled: !!sourceId });
  const types = useQuery(trpc.connectors.types.queryOptions());
  if ((sourceId && existing.isLoading) || types.isLoading) return <Skeleton className="h-96 w-full" />;
  if (sourceId && existing.error) return <ErrorBox title="Source not available">{existing.error.message}</ErrorBox>;
  const connectors = types.data?.connector_types ?? [];
  // The form starts from the stored config when editing (secrets appear as their references and
  // are kept; its type is fixed), else from the first registered type's defaults; later refetches
  // do not touch what is typed.
  const stored = existing.data;
  const first = connectors[0];
  const initial = stored
    ? { name: stored.name, type: stored.connector_type, config: stored.config as Obj, json: JSON.stringify(stored.config, null, 2) }
    : { name: "", type: first?.type ?? "", config: first ? defaultsFor(first.config_schema as JsonSchema) : {}, json: JSON.stringify(SPEC_EXAMPLE_CONFIG, null, 2) };
  return <SourceForm sourceId={sourceId} initial={initial} connectors={connectors} typesError={types.error?.message ?? null} />;
}

type ConnectorInfo = { type: string; label: string; config_schema: unknown; secret_fields: string[] };

function SourceForm({
  sourceId,
  initial,
  connectors,
  typesError,
}: {
  sourceId?: string;
  initial: { name: string; type: string; config: Obj; json: string };
  connectors: ConnectorInfo[];
  typesError: string | null;
}) {
  // Which registered connector type's form is shown (each type's JSON Schema drives its own form).
  const [type, setType] = useState(initial.type);
  const connector = connectors.find((c) => c.type === type);
  const trpc = useTRPC();
  const router = useRouter();
  const queryClient = useQueryClient();
  const canEdit = useCan("editor");
  const [name, setName] = useState(initial.name);
  const [config, setConfig] = useState<Obj>(initial.config);
  const [json, setJson] = useState(initial.json);
  const [jsonError, setJsonError] = useState<string | null>(null);
  const [tab, setTab] = useState("form");

  const done = async (source: { id: string }) => {
    await queryClient.invalidateQueries({ queryKey: trpc.sources.pathKey() });
    router.push(`/sources/${source.id}`);
  };
  const update = useMutation(trpc.sources.update.mutationOptions({ onSuccess: done }));

  const create = useMutation(trpc.sources.create.mutationOptions({ onSuccess: done }));
  const save = sourceId ? update : create;
  const test = useMutation(trpc.sources.testConnection.mutationOptions());
  const issues = issuesFrom(save.error ?? test.error);
  const errors = byPath(issues);

  function parseJson(): Obj | null {
    try {
      const parsed = JSON.parse(json) as unknown;
      if (!parsed || typeof parsed !== "object" || Array.isArray(parsed)) throw new Error("expected a JSON object");
      setJsonError(null);
      return parsed as Obj;
    } catch (e) {
      setJsonError(`Not valid JSON: ${(e as Error).message}`);
      return null;
    }
  }

  function submit() {
    const cfg = tab === "json" ? parseJson() : config;
    if (!cfg) return;
    if (sourceId) update.mutate({ id: sourceId, name, config: cfg as never });
    else create.mutate({ name, config: cfg as never });
  }

  return (
    <>
      <PageHeader
        title={sourceId ? `Edit ${initial.name}` : "Add source"}
        description={
          sourceId
            ? "Change the connection. A running stream picks the new configuration up when it reconnects; nothing is saved until it is valid."
            : "Connect a database. Nothing is saved until the configuration is valid."
        }
      />
      {!canEdit ? <ErrorBox title="Read-only">{needsRole("editor")} to {sourceId ? "edit" : "add"} sources.</ErrorBox> : null}
      <form
        className="space-y-4"
        onSubmit={(e) => {
          e.preventDefault();
          submit();
        }}
      >
        <IdentityFields
          name={name}
          onName={setName}
          nameError={errors.name}
          type={type}
          connectors={connectors}
          typeFixed={!!sourceId}
          disabled={!canEdit}
          onType={(next) => {
            setType(next.type);
            setConfig(defaultsFor(next.config_schema as JsonSchema));
          }}
        />
        <Card>
          <Tabs.Root value={tab} onValueChange={setTab}>
            <Tabs.List aria-label="How to enter the connection" className="-mt-2 mb-4 flex gap-1 border-b border-line">
              <Tabs.Trigger value="form" className={tabClass}>
                Connection form
              </Tabs.Trigger>
              <Tabs.Trigger value="json" className={tabClass}>
                Paste JSON
              </Tabs.Trigger>
            </Tabs.List>
            <Tabs.Content value="form">
              {connector ? (
                <ConfigForm
                  schema={connector.config_schema as JsonSchema}
                  secretFields={connector.secret_fields}
                  value={config}
                  onChange={setConfig}
                  errors={errors}
                  disabled={!canEdit}
                />
              ) : typesError ? (
                <ErrorBox>{typesError}</ErrorBox>
              ) : (
                <Skeleton className="h-48 w-full" />
              )}
            </Tabs.Content>
            <Tabs.Content value="json" className="space-y-2">
              <Field
                id="config-json"
                label="Connection configuration (the specification's format)"
                hint='Secrets as references ("password_secret": "vault://…"), or a typed "password", which is stored encrypted.'
                error={jsonError ?? undefined}
              >
                <Textarea id="config-json" rows={16} value={json} onChange={(e) => setJson(e.target.value)} invalid={!!jsonError} spellCheck={false} disabled={!canEdit} />
              </Field>
              <div className="flex flex-wrap items-center gap-2">
                <Button
                  type="button"
                  variant="secondary"
                  disabled={!canEdit}
                  onClick={() => {
                    const parsed = parseJson();
                    if (parsed) {
                      setConfig(parsed);
                      setTab("form");
                    }
                  }}
                >
                  Fill the form from JSON
                </Button>
                <ImportJsonButton
                  disabled={!canEdit}
                  onText={(text) => {
                    setJson(text);
                    setJsonError(null);
                  }}
                />
              </div>
            </Tabs.Content>
          </Tabs.Root>
        </Card>
        <FormOutcome issues={issues} saveError={save.error?.message ?? null} testError={test.error?.message ?? null} test={test.data ?? null} editing={!!sourceId} />
        <div className="flex justify-end gap-2">
          <Button type="button" variant="secondary" onClick={() => router.push(sourceId ? `/sources/${sourceId}` : "/sources")}>
            Cancel
          </Button>
          <Button
            type="button"
            variant="secondary"
            disabled={!canEdit || test.isPending}
            onClick={() => {
              const cfg = tab === "json" ? parseJson() : config;
              if (cfg) test.mutate({ config: cfg as never });
            }}
          >
            {test.isPending ? "Testing…" : "Test connection"}
          </Button>
          <Button type="submit" disabled={!canEdit || save.isPending} title={canEdit ? undefined : needsRole("editor")}>
            {save.isPending ? "Saving…" : sourceId ? "Save changes" : "Create source"}
          </Button>
        </div>
      </form>
    </>
  );
}

/** The source's name, and the connector type whose form follows (fixed once the source exists). */
function IdentityFields(props: { name: string; onName: (name: string) => void; nameError?: string; type: string; connectors: ConnectorInfo[]; typeFixed: boolean; disabled: boolean; onType: (connector: ConnectorInfo) => void }) {
  return (
    <Card>
      <Field id="source-name" label="Name" hint="Unique; shown in lists and alerts." error={props.nameError}>
        <Input id="source-name" value={props.name} onChange={(e) => props.onName(e.target.value)} invalid={!!props.nameError} placeholder="orders-db" disabled={props.disabled} />
      </Field>
      <Field id="source-type" label="Connector" hint={props.typeFixed ? "A source keeps its type; add another source for another database." : "The connector that reads it: its form below."}>
        <Select
          id="source-type"
          value={props.type}
          disabled={props.disabled || props.typeFixed}
          onChange={(e) => {
            const next = props.connectors.find((c) => c.type === e.target.value);
            if (next) props.onType(next);
          }}
        >
          {props.connectors.map((c) => (
            <option key={c.type} value={c.type}>
              {c.label}
            </option>
          ))}
        </Select>
      </Field>
    </Card>
  );
}

/** What the last save or connection test said: the problems by field path, an error, or the health checks. */
function FormOutcome(props: { issues: ReturnType<typeof issuesFrom>; saveError: string | null; testError: string | null; test: { status: string; checks: Parameters<typeof HealthChecks>[0]["checks"] } | null; editing: boolean }) {
  return (
    <>
      {props.issues.length ? (
        <IssueList title="The configuration is not valid; nothing was saved" issues={props.issues} testId="issues" />
      ) : props.saveError ? (
        <ErrorBox title={props.editing ? "Could not save the source" : "Could not add the source"}>{props.saveError}</ErrorBox>
      ) : props.testError ? (
        <ErrorBox title="Could not test the connection">{props.testError}</ErrorBox>
      ) : null}
      {props.test ? (
        <Card title={`Connection test: ${props.test.status}`}>
          <HealthChecks checks={props.test.checks} />
        </Card>
      ) : null}
    </>
  );
}
