import { describe, expect, it } from "vitest";
import { openApiDocument } from "./openapi.ts";
import { allProcedures, matchRestRoute, restInput, restRoutes, type RestMatch } from "./rest.ts";

const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, any>> };
const ID = "0f8fad5b-d9cb-469f-a165-70867728950e";

/** The route a request reaches; fails the test when it reaches none. */
function routeOf(method: string, path: string): RestMatch {
  const match = matchRestRoute(method, path);
  if (match === null || typeof match === "string") throw new Error(`${method} ${path}: ${match}`);
  return match;
}

describe("public API routing from the procedures", () => {
  it("matches paths with parameters and tells a wrong method from an unknown path", () => {
    const m = routeOf("PATCH", `/sources/${ID}`);
    expect(m.route.procedure).toBe("sources.update");
    expect({ ...m.params }).toEqual({ id: ID });
    expect(matchRestRoute("PUT", "/sources")).toBe("method");
    expect(matchRestRoute("GET", "/nothing-here")).toBeNull();
    expect(matchRestRoute("GET", "/sources/%E0%A4%A")).toBe("malformed");
  });

  it("keeps every documented path of docs/api.md", () => {
    const documented = [
      "GET /sources", "POST /sources", "GET /sources/{id}", "PATCH /sources/{id}", "DELETE /sources/{id}",
      "POST /sources/{id}/health", "GET /sources/{id}/capabilities", "GET /sources/{id}/entities", "GET /sources/{id}/entities/{name}",
      "POST /sources/{id}/operations", "GET /sources/{id}/mappings", "PUT /sources/{id}/mappings", "GET /sources/{id}/mappings/coverage", "POST /sources/{id}/preview",
      "POST /sources/{id}/snapshot", "POST /sources/{id}/stream", "GET /sources/{id}/status", "GET /sources/{id}/cursor", "PUT /sources/{id}/cursor",
      "POST /sources/{id}/stream/entities/{entity}", "GET /sources/{id}/schedule", "POST /sources/{id}/schedule", "GET /alerts", "POST /alerts/{id}/resolve", "GET /runs/{id}", "GET /runs",
      "GET /dead-letters", "GET /dead-letters/{id}", "POST /dead-letters/replay", "POST /dead-letters/{id}/discard",
      "GET /contexts", "GET /contexts/{context_type}/{context_id}", "GET /connector-types", "GET /workers",
      "GET /users", "POST /users", "GET /tokens", "POST /tokens", "POST /tokens/{id}/revoke", "GET /audit",
    ];
    const served = restRoutes().map((r) => `${r.method} ${r.path}`);
    expect(served.sort()).toEqual([...documented].sort());
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(["/health", "/openapi.json"]));
  });

  it("documents each route from its procedure's own schemas, with the success status it answers", () => {
    expect(doc.openapi).toBe("3.1.0");
    const procedures = Object.fromEntries(allProcedures());
    for (const route of restRoutes()) {
      const op = doc.paths[route.path]![route.method.toLowerCase()];
      expect(op, `${route.method} ${route.path}`).toBeDefined();
      expect(Object.keys(op.responses), route.path).toContain(String(route.status));
      if (route.status !== 204) expect(op.responses[String(route.status)].content["application/json"].schema, route.path).toBeDefined();
      expect(op.responses["401"].content["application/json"].schema.$ref).toBe("#/components/schemas/Error");
      if (op.requestBody) expect(op.requestBody.content["application/json"].schema.type, `${route.path} body`).toBe("object");
      expect(procedures[route.procedure], route.procedure).toBeDefined();
    }
    for (const [method, path] of [["post", "/sources"], ["put", "/sources/{id}/mappings"], ["post", "/sources/{id}/operations"], ["post", "/sources/{id}/stream"], ["post", "/dead-letters/replay"]] as const) {
      expect(doc.paths[path]![method].requestBody, `${method} ${path}`).toBeDefined();
    }
    // The procedure's bounds, not a re-declaration's: the list limits and the status enum.
    const deadLetterParams = doc.paths["/dead-letters"]!.get.parameters as { name: string; schema: any }[];
    expect(deadLetterParams.find((p) => p.name === "status")!.schema.enum).toEqual(["open", "replayed", "discarded"]);
    expect(deadLetterParams.find((p) => p.name === "limit")!.schema.maximum).toBeTypeOf("number");
    const config = doc.paths["/sources"]!.post.requestBody.content["application/json"].schema.properties.config;
    expect(JSON.stringify(config)).toContain("ssl_mode");
  });

  it("takes query values as the schema types them, and path parameters over anything sent", () => {
    const list = routeOf("GET", "/dead-letters");
    expect({ ...(restInput(list, new URLSearchParams("limit=5&status=open&entity=7"), undefined) as object) }).toEqual({ limit: 5, status: "open", entity: "7" });
    expect({ ...(restInput(list, new URLSearchParams("limit=five"), undefined) as object) }).toEqual({ limit: "five" });
    // Unknown keys are ignored and an empty value is absent, as they always were.
    expect({ ...(restInput(list, new URLSearchParams("source_id=&x=1&__proto__=y&limit=7"), undefined) as object) }).toEqual({ limit: 7 });
    const del = routeOf("DELETE", `/sources/${ID}`);
    expect((restInput(del, new URLSearchParams("drop_slot=false"), undefined) as { drop_slot: boolean }).drop_slot).toBe(false);
    const patch = routeOf("PATCH", `/sources/${ID}`);
    expect((restInput(patch, new URLSearchParams(), { id: "another", name: "n" }) as { id: string }).id).toBe(ID);
    expect(() => restInput(patch, new URLSearchParams(), [1, 2])).toThrow();
    const health = routeOf("POST", `/sources/${ID}/health`);
    expect({ ...(restInput(health, new URLSearchParams(), null) as object) }).toEqual({ id: ID });
  });

  it("prefers a literal path over a parameter, and serves every public query as GET only", () => {
    expect(routeOf("POST", "/dead-letters/replay").route.procedure).toBe("deadLetters.replay");
    const types = Object.fromEntries(allProcedures().map(([name, p]) => [name, p._def.type]));
    for (const route of restRoutes()) expect(types[route.procedure], `${route.method} ${route.path}`).toBe(route.method === "GET" ? "query" : "mutation");
  });
});
