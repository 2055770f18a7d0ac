/** Placeholder: filled in below. */
import type { SamplingRequest } from "./protocol.js";
export interface StructuredCheck { unenforced: string[]; valid: boolean; errors?: string[] }
export function checkStructuredOutput(_body: Pick<SamplingRequest, "response_format">): { override: Partial<SamplingRequest>; check?: (text: string) => StructuredCheck } {
  return { override: {} };
}
