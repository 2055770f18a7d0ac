// Mutation testing (Stryker): which modules are mutated, and which compiled test files must kill
// their mutants. One module per run: `npm run test:mutation -- <module>` (see scripts/mutation.mjs
// and docs/TESTING.md). Stryker instruments the TypeScript sources in a sandbox with every mutant
// switched off, builds once (tsc), then runs the module's test files once per mutant with
// __STRYKER_ACTIVE_MUTANT__ naming the mutant to switch on. Fast, engine-free test files come
// first: a test that starts a server costs its start-up once per mutant.
export const MODULES = {
  "text-stream": { mutate: ["src/engine/text-stream.ts"], tests: ["text-stream"] },
  "fair-queue": { mutate: ["src/engine/fair-queue.ts"], tests: ["scheduler"] },
  // The scheduler's admission (expireWaiting, admit) and sampling settings (initSampler, tokenBias,
  // liftEogSuppression): lines 229-336 of src/engine/scheduler.ts; move the range when they move.
  // "scheduler-all" mutates the whole file (batching, cancellation, finishing too; slower).
  scheduler: { mutate: ["src/engine/scheduler.ts:229-336"], tests: ["scheduler"] },
  "scheduler-all": { mutate: ["src/engine/scheduler.ts"], tests: ["scheduler"] },
  // Each module below has an engine-free unit test file (a few seconds a run), made for Stryker.
  "json-schema": { mutate: ["src/api/openai/json-schema.ts"], tests: ["json-schema-unit"] },
  // Engine-free: the grammars' languages checked with test/gbnf-match.ts, GrammarCache on a stand-in Llama.
  grammar: { mutate: ["src/engine/grammar.ts"], tests: ["grammar-unit"] },
  "schema-gbnf": { mutate: ["src/engine/schema-gbnf.ts"], tests: ["grammar-unit"] },
  // Engine-free: the grammar's language checked against RegExp with test/gbnf-match.ts.
  "regex-gbnf": { mutate: ["src/engine/regex-gbnf.ts"], tests: ["regex-gbnf-unit"] },
  "rate-limit": { mutate: ["src/api/security/rate-limit.ts"], tests: ["rate-limit-unit"] },
  // auth.ts and the key hash and comparison of src/keys/store.ts (hashKey, generateKey, findKey).
  auth: { mutate: ["src/api/security/auth.ts", "src/keys/store.ts:55-75"], tests: ["auth-unit"] },
  "rag-chunking": { mutate: ["src/rag/chunk.ts"], tests: ["rag-chunk-unit"] },
  // The guardrail detectors, one module per file (about 1300 mutants together).
  "guardrail-pii": { mutate: ["src/guardrails/pii.ts"], tests: ["guardrails-detectors-unit"] },
  "guardrail-injection": { mutate: ["src/guardrails/injection.ts"], tests: ["guardrails-detectors-unit"] },
  "guardrail-validators": { mutate: ["src/guardrails/validators.ts"], tests: ["guardrails-detectors-unit"] },
};

const name = process.env.MUTATION_MODULE ?? "text-stream";
const module = MODULES[name];
if (!module) throw new Error(`unknown mutation module "${name}"; known: ${Object.keys(MODULES).join(", ")}`);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  packageManager: "npm",
  mutate: module.mutate,
  testRunner: "command",
  commandRunner: { command: `node --test --test-concurrency=1 ${module.tests.map((t) => `dist/test/${t}.test.js`).join(" ")}` },
  buildCommand: "npx tsc -p tsconfig.json",
  checkers: process.env.MUTATION_TYPECHECK === "0" ? [] : ["typescript"],
  tsconfigFile: "tsconfig.json",
  coverageAnalysis: "off",
  concurrency: Number(process.env.MUTATION_CONCURRENCY ?? 2),
  timeoutMS: 10_000,
  ignorePatterns: ["dist", "bench/results", "reports", ".nimble", "*.gguf", ".stryker-tmp"],
  // One temporary folder per module, so that two modules can be tested at once.
  tempDirName: `.stryker-tmp/${name}`,
  cleanTempDir: true,
  reporters: ["clear-text", "progress", "json", "html"],
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  thresholds: { high: 90, low: 80, break: null },
};
