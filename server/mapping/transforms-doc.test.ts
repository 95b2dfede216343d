import fs from "node:fs";
import { describe, expect, it } from "vitest";
import { renderTransformsDoc } from "./transforms-doc.ts";

describe("docs/transforms.md", () => {
  it("is generated from the transform library (run npm run docs:transforms after changing a transform)", () => {
    expect(fs.readFileSync("docs/transforms.md", "utf8")).toBe(renderTransformsDoc());
  });
});
