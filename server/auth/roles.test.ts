import { describe, expect, it } from "vitest";
import { hasRole } from "./roles.ts";

describe("role ranks", () => {
  it("lets each role do what the roles below it can", () => {
    expect(hasRole("viewer", "viewer")).toBe(true);
    expect(hasRole("viewer", "editor")).toBe(false);
    expect(hasRole("editor", "viewer")).toBe(true);
    expect(hasRole("editor", "admin")).toBe(false);
    expect(hasRole("admin", "editor")).toBe(true);
  });

  it("grants nothing to an unknown or missing role", () => {
    expect(hasRole("superuser", "viewer")).toBe(false);
    expect(hasRole(null, "viewer")).toBe(false);
    expect(hasRole(undefined, "viewer")).toBe(false);
  });
});
