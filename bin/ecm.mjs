#!/usr/bin/env node
// The `ecm` command (cli/ecm.ts), run through tsx like the rest of the product.
import { register } from "tsx/esm/api";

register();
const { main } = await import("../cli/ecm.ts");
await main(process.argv.slice(2));
