// A health check's three outcomes, as every connector type's healthCheck() writes them.
import type { HealthCheck } from "./types.ts";

export const pass = (name: string, message: string): HealthCheck => ({ name, status: "pass", message });
export const warn = (name: string, message: string, hint: string): HealthCheck => ({ name, status: "warn", message, hint });
export const fail = (name: string, message: string, hint: string): HealthCheck => ({ name, status: "fail", message, hint });
