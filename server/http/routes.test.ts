import { describe, expect, it } from "vitest";
import { openApiDocument } from "./openapi.ts";
import { matchRoute, routes } from "./routes.ts";

describe("public API routing", () => {
  it("matches paths with parameters and tells a wrong method from an unknown path", () => {
    const m = matchRoute("PATCH", "/sources/0f8fad5b-d9cb-469f-a165-70867728950e");
    expect(m).not.toBeNull();
    expect(m !== "method" && m?.params).toEqual({ id: "0f8fad5b-d9cb-469f-a165-70867728950e" });
    expect(matchRoute("PUT", "/sources")).toBe("method");
    expect(matchRoute("GET", "/nothing-here")).toBeNull();
  });

  it("documents every route in the OpenAPI document, with request and response schemas", () => {
    const doc = openApiDocument() as { openapi: string; paths: Record<string, Record<string, any>> };
    expect(doc.openapi).toBe("3.1.0");
    for (const r of routes) {
      const op = doc.paths[r.path]?.[r.method.toLowerCase()];
      expect(op, `${r.method} ${r.path}`).toBeDefined();
      if (r.body) {
        const body = op.requestBody.content["application/json"].schema;
        expect(body.type === "object" || Array.isArray(body.oneOf) || Array.isArray(body.anyOf), `${r.path} body schema`).toBe(true);
      }
      if (r.response) expect(op.responses[String(r.status ?? 200)].content["application/json"].schema).toBeDefined();
    }
    const createSource = doc.paths["/sources"]!.post;
    const config = createSource.requestBody.content["application/json"].schema.properties.config;
    expect(JSON.stringify(config)).toContain("ssl_mode");
  });
});
