// Writes docs/transforms.md from the transform library, so the documentation users read and the
// text the console shows are the same words. `npm run docs:transforms`; a unit test keeps it current.
import fs from "node:fs";
import { renderTransformsDoc } from "../server/mapping/transforms-doc.ts";

fs.writeFileSync("docs/transforms.md", renderTransformsDoc());
console.log("wrote docs/transforms.md");
