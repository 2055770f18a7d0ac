/** OpenAI's vector store search filters (comparison eq/ne/gt/gte/lt/lte/in/nin, compound and/or) evaluated on a file's attributes. */
import type { AttributeValue, Attributes, SearchFilter } from "./types.js";

function compare(a: AttributeValue, b: AttributeValue): number | undefined {
  if (typeof a === "number" && typeof b === "number") return a - b;
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

/**
 * Whether attributes pass a filter. A comparison on a key the file does not have fails, except
 * `ne` and `nin`, which pass (the value is not the one excluded). Ordering compares numbers with
 * numbers and strings with strings; mixed types do not match.
 */
export function matchesFilter(attributes: Attributes, filter: SearchFilter): boolean {
  if ("filters" in filter) return filter.type === "and" ? filter.filters.every((f) => matchesFilter(attributes, f)) : filter.filters.some((f) => matchesFilter(attributes, f));
  const has = Object.prototype.hasOwnProperty.call(attributes, filter.key);
  const actual = attributes[filter.key];
  const value = filter.value;
  switch (filter.type) {
    case "eq":
      return has && actual === value;
    case "ne":
      return !has || actual !== value;
    case "in":
      return has && Array.isArray(value) && value.includes(actual!);
    case "nin":
      return !has || !Array.isArray(value) || !value.includes(actual!);
    default: {
      if (!has || Array.isArray(value)) return false;
      const c = compare(actual!, value);
      if (c === undefined) return false;
      return filter.type === "gt" ? c > 0 : filter.type === "gte" ? c >= 0 : filter.type === "lt" ? c < 0 : c <= 0;
    }
  }
}
