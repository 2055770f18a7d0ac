/**
 * OpenAI's vector store search filters as a PostgreSQL condition on a jsonb attributes column, with
 * the same meaning as matchesFilter (src/rag/filters.ts): a comparison on a missing key fails except
 * `ne`/`nin`; ordering compares numbers with numbers and strings with strings (code point order,
 * COLLATE "C"); mixed types do not match. Keys and values are bound parameters, never SQL text.
 */
import type { SearchFilter } from "../types.js";

const ORDER = { gt: ">", gte: ">=", lt: "<", lte: "<=" } as const;

/**
 * The condition for `filter` over `column` (a trusted column name); values are appended to `params`
 * and referenced as $n.
 */
export function filterSql(filter: SearchFilter, column: string, params: unknown[]): string {
  const bind = (value: unknown) => `$${params.push(value)}`;
  if ("filters" in filter) {
    if (filter.filters.length === 0) return filter.type === "and" ? "TRUE" : "FALSE";
    return `(${filter.filters.map((f) => filterSql(f, column, params)).join(filter.type === "and" ? " AND " : " OR ")})`;
  }
  const value = filter.value;
  // Bound on first use only: PostgreSQL rejects parameters a statement does not use.
  let key: string | undefined;
  const keyRef = () => (key ??= bind(filter.key));
  // NULL when the key is missing: every comparison with it is then false (coalesce, EXISTS, CASE).
  const actual = () => `(${column} -> ${keyRef()}::text)`;
  switch (filter.type) {
    case "eq":
    case "ne": {
      // An array is never equal to an attribute (attributes are strings, numbers or booleans).
      const eq = Array.isArray(value) ? "FALSE" : `coalesce(${actual()} = ${bind(JSON.stringify(value))}::jsonb, FALSE)`;
      return filter.type === "eq" ? eq : `(NOT ${eq})`;
    }
    case "in":
    case "nin": {
      const isIn = Array.isArray(value) ? `EXISTS (SELECT 1 FROM jsonb_array_elements(${bind(JSON.stringify(value))}::jsonb) AS e(v) WHERE e.v = ${actual()})` : "FALSE";
      return filter.type === "in" ? isIn : `(NOT ${isIn})`;
    }
    default: {
      const op = ORDER[filter.type];
      // CASE, not AND: PostgreSQL may evaluate AND's operands in any order, and the cast must only see numbers.
      const type = typeof value === "number" ? "number" : typeof value === "string" ? "string" : undefined;
      if (!type) return "FALSE";
      const test = `jsonb_typeof(${actual()}) = '${type}'`;
      const compare = type === "number" ? `(${column} ->> ${keyRef()}::text)::numeric ${op} ${bind(value)}::numeric` : `(${column} ->> ${keyRef()}::text) COLLATE "C" ${op} ${bind(value)}::text COLLATE "C"`;
      return `(CASE WHEN ${test} THEN ${compare} ELSE FALSE END)`;
    }
  }
}
