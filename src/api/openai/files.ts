/**
 * OpenAI's Files API: POST /v1/files (multipart, streamed to disk under NIMBLE_HOME with a size
 * limit: 413 beyond), GET /v1/files, GET and DELETE /v1/files/{id}, GET /v1/files/{id}/content.
 * The bytes are stored under the file's id; the filename is only a display name, cleaned of
 * folders and control characters.
 */
import type { FastifyInstance } from "fastify";
import type {} from "@fastify/multipart";
import type { FileRecord } from "../../rag/records.js";
import type { StagedUpload } from "../../rag/service.js";
import { ApiError } from "../errors.js";
import type { ServerState } from "../state.js";
import { cursorPage, parseQuery, ragService } from "./common.js";
import { filesQuerySchema, FILE_PURPOSES, purposeSchema } from "./schemas.js";

export function fileObject(f: FileRecord) {
  return { id: f.id, object: "file" as const, bytes: f.bytes, created_at: f.created_at, filename: f.filename, purpose: f.purpose, status: "processed" as const, status_details: null, expires_at: null };
}

function tooLarge(maxFileBytes: number): ApiError {
  return new ApiError(413, `The file is larger than this server accepts (${maxFileBytes} bytes; --max-file-size).`, "invalid_request_error", "file", "file_too_large");
}

/** Routes of the Files API; `app` must have @fastify/multipart registered. */
export function registerFileRoutes(app: FastifyInstance, state: ServerState, maxFileBytes: number): void {
  app.post("/v1/files", async (request) => {
    const service = await ragService(state);
    if (!request.isMultipart()) throw new ApiError(415, "Send the file as multipart/form-data with the fields 'file' and 'purpose'.", "invalid_request_error", null, "unsupported_media_type");
    let staged: StagedUpload | undefined;
    let filename = "file";
    let mimeType: string | undefined;
    let purpose: string | undefined;
    try {
      for await (const part of request.parts()) {
        if (part.type === "file") {
          if (part.fieldname !== "file" || staged) {
            part.file.resume();
            throw ApiError.invalid(staged ? "Send one file per request." : `Unexpected file field '${part.fieldname}'; send the file as 'file'.`, part.fieldname);
          }
          filename = part.filename || "file";
          mimeType = part.mimetype;
          try {
            staged = await service.stageUpload(part.file);
          } catch (err) {
            if ((err as { code?: string }).code === "FST_REQ_FILE_TOO_LARGE") throw tooLarge(maxFileBytes);
            throw err;
          }
          if (part.file.truncated) throw tooLarge(maxFileBytes);
        } else if (part.fieldname === "purpose") {
          purpose = String(part.value);
        }
      }
      if (!staged) throw ApiError.invalid("Invalid value for 'file': Required", "file");
      if (purpose === undefined) throw ApiError.invalid("Invalid value for 'purpose': Required", "purpose");
      if (!purposeSchema.safeParse(purpose).success) throw ApiError.invalid(`Invalid value for 'purpose': expected one of ${FILE_PURPOSES.join(", ")}`, "purpose");
      const record = await service.commitUpload(staged, filename, purpose, mimeType);
      staged = undefined;
      return fileObject(record);
    } catch (err) {
      if ((err as { code?: string }).code === "FST_REQ_FILE_TOO_LARGE") throw tooLarge(maxFileBytes);
      throw err;
    } finally {
      if (staged) await service.discardUpload(staged);
    }
  });

  app.get("/v1/files", async (request) => {
    const q = parseQuery(filesQuerySchema, request);
    const service = await ragService(state);
    return cursorPage((await service.listFiles(q.purpose)).map(fileObject), q);
  });

  app.get<{ Params: { id: string } }>("/v1/files/:id", async (request) => fileObject(await (await ragService(state)).getFile(request.params.id)));

  app.delete<{ Params: { id: string } }>("/v1/files/:id", async (request) => {
    await (await ragService(state)).deleteFile(request.params.id);
    return { id: request.params.id, object: "file", deleted: true };
  });

  app.get<{ Params: { id: string } }>("/v1/files/:id/content", async (request, reply) => {
    const service = await ragService(state);
    const bytes = await service.fileBytes(request.params.id);
    return reply.type("application/octet-stream").send(bytes);
  });
}
