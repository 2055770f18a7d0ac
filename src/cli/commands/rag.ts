/**
 * `nimble rag ingest|ls|search|rm|eval`: vector stores of a running server, over its HTTP API
 * (--url, --api-key). Ingest walks folders and globs, uploads each file and attaches it with its
 * path and content hash as attributes, so a re-run skips files already indexed with the same bytes.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { basename, join, relative, resolve, sep } from "node:path";
import { Command, InvalidArgumentError } from "commander";
import { mrrAtK, ndcgAtK, parseQrels, parseQueries, recallAtK } from "../../rag/eval.js";

const say = (line: string): void => void process.stdout.write(`${line}\n`);

interface Conn {
  url: string;
  apiKey?: string;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("expected a whole number ≥ 1");
  return n;
}

async function call<T = any>(conn: Conn, method: string, path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = {};
  if (conn.apiKey) headers.authorization = `Bearer ${conn.apiKey}`;
  let payload: BodyInit | undefined;
  if (body instanceof FormData) payload = body;
  else if (body !== undefined) {
    headers["content-type"] = "application/json";
    payload = JSON.stringify(body);
  }
  let res: Response;
  try {
    res = await fetch(`${conn.url.replace(/\/$/, "")}${path}`, { method, headers, ...(payload !== undefined ? { body: payload } : {}) });
  } catch (err) {
    throw new Error(`cannot reach the server at ${conn.url} (${(err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message}); start it with \`nimble serve --embedding-model …\` or pass --url`);
  }
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json?.error?.message ?? text}`);
  return json as T;
}

/** Every page of a list endpoint. */
async function listAll<T extends { id: string }>(conn: Conn, path: string): Promise<T[]> {
  const out: T[] = [];
  let after: string | undefined;
  for (;;) {
    const q = `${path}${path.includes("?") ? "&" : "?"}limit=100&order=asc${after ? `&after=${encodeURIComponent(after)}` : ""}`;
    const page = await call<{ data: T[]; has_more: boolean; last_id: string | null }>(conn, "GET", q);
    out.push(...page.data);
    if (!page.has_more || !page.last_id) return out;
    after = page.last_id;
  }
}

async function findStore(conn: Conn, nameOrId: string): Promise<any | undefined> {
  const stores = await listAll<any>(conn, "/v1/vector_stores");
  return stores.find((s) => s.id === nameOrId) ?? stores.filter((s) => s.name === nameOrId).pop();
}

async function requireStore(conn: Conn, nameOrId: string): Promise<any> {
  const store = await findStore(conn, nameOrId);
  if (!store) throw new Error(`no vector store named or with id "${nameOrId}" (nimble rag ls lists them)`);
  return store;
}

function globRegex(pattern: string): RegExp {
  let re = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*" && pattern[i + 1] === "*") {
      re += ".*";
      i++;
      if (pattern[i + 1] === "/") i++;
    } else if (c === "*") re += "[^/]*";
    else if (c === "?") re += "[^/]";
    else re += /[.+^${}()|[\]\\]/.test(c) ? `\\${c}` : c;
  }
  return new RegExp(`^${re}$`);
}

function walk(dir: string, out: string[]): void {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) walk(path, out);
    else if (entry.isFile()) out.push(path);
  }
}

/** Files named by paths: files, folders (recursively, hidden ones skipped) and globs (* ? **). */
export function expandPaths(paths: readonly string[]): string[] {
  const out: string[] = [];
  for (const p of paths) {
    if (/[*?]/.test(p)) {
      const parts = resolve(p).split(sep);
      const firstGlob = parts.findIndex((s) => /[*?]/.test(s));
      const root = parts.slice(0, firstGlob).join(sep) || sep;
      const re = globRegex(relative(root, resolve(p)).split(sep).join("/"));
      const found: string[] = [];
      try {
        walk(root, found);
      } catch {
        /* no such folder: matches nothing */
      }
      out.push(...found.filter((f) => re.test(relative(root, f).split(sep).join("/"))));
    } else {
      let st;
      try {
        st = statSync(p);
      } catch {
        throw new Error(`${p}: no such file or folder`);
      }
      if (st.isDirectory()) walk(p, out);
      else out.push(p);
    }
  }
  return [...new Set(out.map((f) => resolve(f)))].sort();
}

/** Which lists the hybrid search fuses: OpenAI's hybrid_search weights for each choice. */
export const RETRIEVAL_WEIGHTS = {
  bm25: { embedding_weight: 0, text_weight: 1 },
  dense: { embedding_weight: 1, text_weight: 0 },
  hybrid: { embedding_weight: 1, text_weight: 1 },
} as const;
export type RetrievalMode = keyof typeof RETRIEVAL_WEIGHTS;

function retrievalMode(value: string): RetrievalMode {
  if (!(value in RETRIEVAL_WEIGHTS)) throw new InvalidArgumentError("expected bm25, dense or hybrid");
  return value as RetrievalMode;
}

/** A search result's document id for qrels: its doc_id attribute, else its file name when the qrels use it, else the name without extension. */
export function docId(result: { filename: string; attributes?: Record<string, unknown> }, judged: ReadonlySet<string>): string {
  if (result.attributes?.doc_id !== undefined) return String(result.attributes.doc_id);
  return judged.has(result.filename) ? result.filename : result.filename.replace(/\.[^.]+$/, "");
}

function rate(n: number, seconds: number): string {
  return `${(seconds > 0 ? n / seconds : 0).toFixed(1)}/s`;
}

export function registerRag(program: Command): void {
  const rag = program.command("rag").description("Vector stores of a running server: ingest files, list, search, remove, evaluate retrieval.");
  const withConn = (cmd: Command) =>
    cmd
      .option("--url <url>", "the server [env: NIMBLE_URL]", process.env.NIMBLE_URL ?? "http://127.0.0.1:8000")
      .option("--api-key <key>", "API key, when the server wants one [env: NIMBLE_API_KEY]", process.env.NIMBLE_API_KEY);

  withConn(rag.command("ingest").argument("<paths...>", "files, folders (recursive) or globs").requiredOption("--store <name>", "vector store name (created when missing) or id"))
    .description("Upload files into a vector store and wait until they are indexed; files already indexed with the same content are skipped.")
    .option("--chunk-size <tokens>", "static chunking: most tokens per chunk (100–4096; default auto: 800)", positive)
    .option("--chunk-overlap <tokens>", "static chunking: tokens shared by consecutive chunks (≤ half the size; default 400)", (v) => Number(v))
    .option("--redact-pii", "create the store with PII redaction: e-mails, phones, cards, IBANs and SSNs become placeholders before indexing (a store setting, fixed at creation)")
    .action(async (paths: string[], opts: Conn & { store: string; chunkSize?: number; chunkOverlap?: number; redactPii?: boolean }) => {
      const files = expandPaths(paths);
      if (files.length === 0) throw new Error("no files match");
      const found = await findStore(opts, opts.store);
      if (found && opts.redactPii && found.redact_pii !== true) throw new Error(`vector store "${opts.store}" exists without PII redaction (a setting fixed at creation); ingest into a new store to redact`);
      const store = found ?? (await call(opts, "POST", "/v1/vector_stores", { name: opts.store, ...(opts.redactPii ? { redact_pii: true } : {}) }));
      const chunking = opts.chunkSize ? { type: "static", static: { max_chunk_size_tokens: opts.chunkSize, chunk_overlap_tokens: opts.chunkOverlap ?? Math.floor(opts.chunkSize / 2) } } : undefined;
      const existing = await listAll<any>(opts, `/v1/vector_stores/${store.id}/files`);
      const indexed = new Set(existing.filter((f) => f.status === "completed").map((f) => `${f.attributes?.path}\u0000${f.attributes?.sha256}`));
      const started = Date.now();
      const pending = new Set<string>();
      let skipped = 0;
      const total = files.length;
      const stderr = process.stderr;
      const draw = (done: number, chunks: number) => {
        const s = (Date.now() - started) / 1000;
        const line = `ingest ${done}/${total} files, ${chunks} chunks · ${rate(done, s)} files, ${rate(chunks, s)} chunks, ${rate(chunks, s)} embeddings`;
        if (stderr.isTTY) stderr.write(`\r${line}\x1b[K`);
        else if (done === total) stderr.write(`${line}\n`);
      };
      for (const path of files) {
        const bytes = readFileSync(path);
        const sha256 = createHash("sha256").update(bytes).digest("hex");
        const rel = relative(process.cwd(), path) || basename(path);
        if (indexed.has(`${rel}\u0000${sha256}`)) {
          skipped++;
          continue;
        }
        const form = new FormData();
        form.append("purpose", "assistants");
        form.append("file", new Blob([bytes]), basename(path));
        const file = await call(opts, "POST", "/v1/files", form);
        await call(opts, "POST", `/v1/vector_stores/${store.id}/files`, { file_id: file.id, attributes: { path: rel.slice(0, 512), sha256 }, ...(chunking ? { chunking_strategy: chunking } : {}) });
        pending.add(file.id);
      }
      const failed: string[] = [];
      let chunks = 0;
      let duplicates = 0;
      let done = skipped;
      draw(done, chunks);
      while (pending.size > 0) {
        await new Promise((r) => setTimeout(r, 250));
        const list = await listAll<any>(opts, `/v1/vector_stores/${store.id}/files`);
        chunks = 0;
        duplicates = 0;
        for (const f of list) {
          if (!pending.has(f.id)) continue;
          if (f.status !== "in_progress") {
            pending.delete(f.id);
            done++;
            if (f.status === "failed") failed.push(`${f.attributes?.path ?? f.id}: ${f.last_error?.code} ${f.last_error?.message}`);
          }
        }
        for (const f of list) {
          if (f.status !== "completed" || indexed.has(`${f.attributes?.path}\u0000${f.attributes?.sha256}`)) continue;
          chunks += f.chunks ?? 0;
          duplicates += f.duplicate_chunks ?? 0;
        }
        draw(done, chunks);
      }
      if (stderr.isTTY) stderr.write("\n");
      say(`${store.name || store.id}: ${total - skipped - failed.length} indexed, ${skipped} already indexed, ${failed.length} failed (${chunks} chunks, ${duplicates} near-duplicate chunks dropped, in ${((Date.now() - started) / 1000).toFixed(1)} s)${store.redact_pii ? " · PII redacted" : ""}`);
      for (const f of failed) say(`failed ${f}`);
      if (failed.length > 0) process.exitCode = 1;
    });

  withConn(rag.command("ls").argument("[store]", "list this store's files instead of the stores"))
    .description("List vector stores (or one store's files).")
    .option("--json", "print JSON")
    .action(async (storeName: string | undefined, opts: Conn & { json?: boolean }) => {
      if (storeName) {
        const store = await requireStore(opts, storeName);
        const files = await listAll<any>(opts, `/v1/vector_stores/${store.id}/files`);
        if (opts.json) return say(JSON.stringify(files, null, 2));
        if (files.length === 0) return say("no files");
        for (const f of files) say(`${f.id}  ${f.status.padEnd(11)} ${String(f.chunks ?? "").padStart(5)} chunks  ${f.attributes?.path ?? ""}${f.last_error ? `  (${f.last_error.code}: ${f.last_error.message})` : ""}`);
        return;
      }
      const stores = await listAll<any>(opts, "/v1/vector_stores");
      if (opts.json) return say(JSON.stringify(stores, null, 2));
      if (stores.length === 0) return say("no vector stores");
      for (const s of stores) say(`${(s.name || "(unnamed)").padEnd(20)} ${s.id}  ${s.file_counts.completed}/${s.file_counts.total} files  ${s.file_counts.failed} failed  ${s.usage_bytes} bytes  ${s.status}`);
    });

  withConn(rag.command("search").argument("<store>", "vector store name or id").argument("<query...>", "what to search for"))
    .description("Search a vector store: ranked chunks with file, page/heading and score.")
    .option("-k, --max-results <n>", "results (1–50)", positive, 5)
    .option("--ranker <ranker>", "auto (rerank when a rerank model is served) or none", "auto")
    .option("--retrieval <mode>", "lists fused: bm25, dense or hybrid", retrievalMode, "hybrid" as RetrievalMode)
    .option("--json", "print the API's JSON")
    .action(async (storeName: string, query: string[], opts: Conn & { maxResults: number; ranker: string; retrieval: RetrievalMode; json?: boolean }) => {
      const store = await requireStore(opts, storeName);
      const page = await call(opts, "POST", `/v1/vector_stores/${store.id}/search`, { query: query.join(" "), max_num_results: opts.maxResults, ranking_options: { ranker: opts.ranker, hybrid_search: RETRIEVAL_WEIGHTS[opts.retrieval] } });
      if (opts.json) return say(JSON.stringify(page, null, 2));
      if (page.query_truncated) say(`(query cut to the embedding model's context: "${page.search_query[0]}")`);
      if (page.data.length === 0) return say("no results");
      page.data.forEach((r: any, i: number) => {
        const where = [r.attributes?.path ?? r.filename, r.page ? `page ${r.page}` : "", (r.heading_path ?? []).join(" > ")].filter(Boolean).join(" · ");
        say(`${i + 1}. ${r.score.toFixed(3)}  ${where}`);
        say(`   ${r.content.map((c: any) => c.text).join(" ").replace(/\s+/g, " ").trim().slice(0, 240)}`);
      });
    });

  withConn(rag.command("rm").argument("<store>", "vector store name or id").argument("[files...]", "file ids or paths to detach (default: delete the whole store)"))
    .description("Delete a vector store, or detach files from it (their chunks leave search results at once).")
    .action(async (storeName: string, files: string[], opts: Conn) => {
      const store = await requireStore(opts, storeName);
      if (files.length === 0) {
        await call(opts, "DELETE", `/v1/vector_stores/${store.id}`);
        return say(`deleted ${store.name || store.id}`);
      }
      const attached = await listAll<any>(opts, `/v1/vector_stores/${store.id}/files`);
      for (const name of files) {
        const match = attached.filter((f) => f.id === name || f.attributes?.path === name || f.attributes?.path === relative(process.cwd(), resolve(name)));
        if (match.length === 0) throw new Error(`no file "${name}" in ${store.name || store.id}`);
        for (const f of match) {
          await call(opts, "DELETE", `/v1/vector_stores/${store.id}/files/${f.id}`);
          say(`removed ${f.attributes?.path ?? f.id}`);
        }
      }
    });

  withConn(rag.command("eval").requiredOption("--store <name>", "vector store name or id").requiredOption("--queries <file>", "BEIR queries JSONL ({\"_id\", \"text\"} per line)").requiredOption("--qrels <file>", "BEIR qrels TSV (query-id, corpus-id, score)"))
    .description("Measure retrieval on labelled queries: recall@k, nDCG@10 and MRR (BEIR's definitions). A chunk's document id is its file's doc_id attribute, else its file name (as the qrels use it, with or without extension).")
    .option("-k <n>", "k of recall@k", positive, 5)
    .option("--ranker <ranker>", "rerank stage: auto (when a rerank model is served) or none", "auto")
    .option("--retrieval <mode>", "lists fused: bm25 (BM25 only), dense (embeddings only) or hybrid (both, weights 1 and 1)", retrievalMode)
    .option("--text-weight <w>", "weight of the BM25 list in the fusion (0: dense only; not with --retrieval)", Number)
    .option("--embedding-weight <w>", "weight of the dense list in the fusion (0: BM25 only; not with --retrieval)", Number)
    .option("--json", "print JSON (with the run: each query's ranked document ids)")
    .action(async (opts: Conn & { store: string; queries: string; qrels: string; k: number; ranker: string; retrieval?: RetrievalMode; textWeight?: number; embeddingWeight?: number; json?: boolean }) => {
      if (opts.retrieval && (opts.textWeight !== undefined || opts.embeddingWeight !== undefined)) throw new Error("give --retrieval or --text-weight/--embedding-weight, not both");
      for (const w of [opts.textWeight, opts.embeddingWeight]) if (w !== undefined && !(Number.isFinite(w) && w >= 0)) throw new Error("--text-weight and --embedding-weight must be numbers ≥ 0");
      const weights = opts.retrieval ? RETRIEVAL_WEIGHTS[opts.retrieval] : { embedding_weight: opts.embeddingWeight ?? 1, text_weight: opts.textWeight ?? 1 };
      const store = await requireStore(opts, opts.store);
      const queries = parseQueries(readFileSync(opts.queries, "utf8"));
      const qrels = parseQrels(readFileSync(opts.qrels, "utf8"));
      const judged = queries.filter((q) => qrels.has(q.id));
      if (judged.length === 0) throw new Error("no query has judgements in --qrels");
      const judgedIds = new Set([...qrels.values()].flatMap((m) => [...m.keys()]));
      const sums = { recall: 0, ndcg: 0, mrr: 0 };
      const run: Record<string, string[]> = {};
      for (const q of judged) {
        const page = await call(opts, "POST", `/v1/vector_stores/${store.id}/search`, { query: q.text, max_num_results: 50, ranking_options: { ranker: opts.ranker, hybrid_search: weights } });
        const ranked = [...new Set((page.data as any[]).map((r) => docId(r, judgedIds)))];
        run[q.id] = ranked;
        const rel = qrels.get(q.id)!;
        sums.recall += recallAtK(ranked, rel, opts.k);
        sums.ndcg += ndcgAtK(ranked, rel, 10);
        sums.mrr += mrrAtK(ranked, rel, 10);
      }
      const n = judged.length;
      const result = { queries: n, [`recall@${opts.k}`]: sums.recall / n, "ndcg@10": sums.ndcg / n, "mrr@10": sums.mrr / n, ranker: opts.ranker, hybrid_search: weights };
      if (opts.json) return say(JSON.stringify({ ...result, run }));
      say(`${n} queries  (BM25 weight ${weights.text_weight}, dense weight ${weights.embedding_weight}, rerank ${opts.ranker})  recall@${opts.k} ${(sums.recall / n).toFixed(4)}  nDCG@10 ${(sums.ndcg / n).toFixed(4)}  MRR@10 ${(sums.mrr / n).toFixed(4)}`);
    });
}
