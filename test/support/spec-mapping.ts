// The specification's example mapping (server/mapping/spec-example.ts), shared by unit,
// integration and end-to-end tests; callers clone it before changing it.
export { SPEC_EXAMPLE_MAPPING } from "../../server/mapping/spec-example.ts";
