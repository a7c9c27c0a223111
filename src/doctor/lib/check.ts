// The four ways a check ends, as CheckResult values (kept apart from step.ts so that the proxy
// client, which step.ts names as a type, can build them without an import cycle).
import type { CheckResult } from "../../types.js";

export const pass = (name: string, detail: string): CheckResult => ({ name, status: "pass", detail });
export const warn = (name: string, detail: string, fix: string): CheckResult => ({ name, status: "warn", detail, fix });
export const fail = (name: string, detail: string, fix: string): CheckResult => ({ name, status: "fail", detail, fix });
export const skip = (name: string, detail: string): CheckResult => ({ name, status: "skip", detail });
