/**
 * Crash safety of ingestion, for real: a child process ingests files into the embedded store and
 * is killed with SIGKILL part-way. Every file is then either fully indexed or absent, the store
 * opens again, and the interrupted files are ingested again to completion.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { it } from "node:test";
import { EmbeddingEngine } from "../src/engine/embedding-engine.js";
import { generateModel, PRESETS } from "../src/models/generate.js";
import { JsonlMetadataStore } from "../src/rag/index/jsonl-metadata.js";
import { LanceChunkIndex } from "../src/rag/index/lance.js";
import { engineModels } from "../src/rag/models.js";
import { openRag } from "../src/rag/open.js";
import type { StoreFileRecord } from "../src/rag/records.js";
import { tempDir } from "./helpers.js";

const FILES = 16;

it("kill -9 during ingest leaves every file fully indexed or absent; reopening re-ingests the rest", async () => {
  const home = tempDir();
  const modelPath = join(home, "embed.gguf");
  await generateModel(modelPath, { shape: PRESETS.tiny, seed: 42, poolingType: 1, chatTemplate: null });
  const child = spawn(process.execPath, [fileURLToPath(new URL("./fixtures/rag-ingest-child.js", import.meta.url)), home, modelPath, String(FILES)], { stdio: ["ignore", "pipe", "inherit"] });
  let storeId = "";
  let killedAfter = -1;
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      storeId = /store (\S+)/.exec(out)?.[1] ?? storeId;
      const done = [...out.matchAll(/completed (\d+)/g)].map((m) => Number(m[1]));
      const last = done[done.length - 1] ?? 0;
      if (last >= 3 && killedAfter < 0) {
        killedAfter = last;
        child.kill("SIGKILL");
      }
    });
    child.on("exit", (_code, signal) => (signal === "SIGKILL" ? resolve() : reject(new Error(`the child ended before it was killed: ${out}`))));
  });
  assert.ok(storeId.startsWith("vs_"));

  // Straight after the crash, before any recovery: each file's chunks are all there or none are.
  const meta = await JsonlMetadataStore.open(join(home, "rag", "metadata.jsonl"));
  const index = await LanceChunkIndex.open(join(home, "rag", "lance"));
  const records = await meta.list<StoreFileRecord>("store_file", `${storeId}/`);
  assert.equal(records.length, FILES);
  const complete = records.filter((r) => r.status === "completed");
  assert.ok(complete.length >= 3 && complete.length < FILES, `${complete.length} files completed before the kill`);
  const perFile = complete[0]!.chunks;
  assert.ok(perFile > 1);
  const counts = await index.fileChunkCounts(storeId);
  for (const r of records) {
    const n = counts.get(r.id) ?? 0;
    if (r.status === "completed") assert.equal(n, perFile, `completed file ${r.id}`);
    else assert.ok(n === 0 || n === perFile, `interrupted file ${r.id} has ${n} of ${perFile} chunks`);
  }
  await index.close();
  await meta.close();

  // Reopen: interrupted files are cleaned and ingested again; nothing is lost or doubled.
  const embedding = await EmbeddingEngine.load({ modelPath, servedName: "embed", gpu: "cpu", threads: 1, contextSize: 128 });
  const service = await openRag({ home, models: engineModels({ embedding }), dedupe: false });
  try {
    await service.waitIdle();
    const after = await service.storeFiles(storeId);
    assert.equal(after.length, FILES);
    assert.ok(after.every((f) => f.status === "completed" && f.chunks === perFile));
    const reopened = await LanceChunkIndex.open(join(home, "rag", "lance"));
    assert.equal(await reopened.count(storeId), FILES * perFile);
    await reopened.close();
    const result = await service.retriever.search([storeId], "durable indexes", { maxResults: 50 });
    assert.equal(result.results.length, 50);
  } finally {
    await service.close();
    await embedding.close();
  }
});
