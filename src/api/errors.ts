/**
 * Errors in OpenAI's shape, `{error:{message,type,param,code}}`, with the right HTTP status.
 * Every failure a client can see goes through here: no stack traces, no internal paths.
 */
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import type { ZodError } from "zod";
import { MemoryBudgetError, ModelLoadError, ModelNotFoundError } from "../engine/model-pool.js";
import { ContextLengthError, EngineClosedError, QueueFullError, QueueTimeoutError } from "../engine/types.js";

export interface OpenAIErrorBody {
  error: { message: string; type: string; param: string | null; code: string | null };
}

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly type: string,
    readonly param: string | null = null,
    readonly code: string | null = null,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }

  body(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }

  static invalid(message: string, param: string | null = null, code: string | null = "invalid_value"): ApiError {
    return new ApiError(400, message, "invalid_request_error", param, code);
  }

  static modelNotFound(model: string): ApiError {
    return new ApiError(404, `The model '${model}' does not exist. GET /v1/models lists the models served here.`, "invalid_request_error", "model", "model_not_found");
  }

  static shuttingDown(): ApiError {
    return new ApiError(503, "The server is shutting down.", "service_unavailable", null, "shutting_down", { "retry-after": "5" });
  }

  /** A token id the model's vocabulary does not have, in field `param`. */
  static outsideVocabulary(param: string, token: number, vocabSize: number): ApiError {
    return ApiError.invalid(`Invalid value for '${param}': token ${token} is outside the vocabulary (0-${vocabSize - 1})`, param);
  }

  static notReady(): ApiError {
    return new ApiError(503, "The model is still loading; retry when GET /v1/health/ready returns 200.", "service_unavailable", null, "model_not_ready", { "retry-after": "1" });
  }

  static fromZod(err: ZodError): ApiError {
    const issue = err.issues[0]!;
    const param = issue.path.length > 0 ? issue.path.map(String).join(".") : null;
    let message = issue.message;
    if (issue.code === "invalid_type" && issue.received === "undefined") message = "Required";
    if (issue.code === "unrecognized_keys") message = `Unrecognized parameter(s): ${issue.keys.join(", ")}`;
    return ApiError.invalid(param ? `Invalid value for '${param}': ${message}` : message, param);
  }
}

/** Maps any thrown value to an ApiError. Unknown errors become a generic 500 (details go to the log only). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof QueueFullError) {
    return new ApiError(429, err.message, "rate_limit_error", null, "queue_full", { "retry-after": "1" });
  }
  if (err instanceof ContextLengthError) return ApiError.invalid(err.message, null, "context_length_exceeded");
  if (err instanceof ModelNotFoundError) return ApiError.modelNotFound(err.model);
  if (err instanceof MemoryBudgetError) return new ApiError(503, err.message, "service_unavailable", "model", "memory_budget_exceeded", { "retry-after": "5" });
  if (err instanceof ModelLoadError) return new ApiError(500, `The model '${err.model}' could not be loaded; the server log says why.`, "server_error", "model", "model_load_failed");
  if (err instanceof QueueTimeoutError) return new ApiError(503, err.message, "service_unavailable", null, "queue_timeout", { "retry-after": "5" });
  if (err instanceof EngineClosedError) return new ApiError(503, err.message, "service_unavailable", null, "shutting_down", { "retry-after": "5" });
  const fe = err as Partial<FastifyError>;
  if (typeof fe.statusCode === "number" && fe.statusCode >= 400 && fe.statusCode < 500) {
    switch (fe.code) {
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return new ApiError(413, "The request body is larger than this server accepts.", "invalid_request_error", null, "body_too_large");
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return new ApiError(415, "Send the request body as JSON with Content-Type: application/json.", "invalid_request_error", null, "unsupported_media_type");
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
        return ApiError.invalid("The request body is empty; send a JSON object.", null, "invalid_json");
      default:
        if (err instanceof SyntaxError || fe.code === "FST_ERR_CTP_INVALID_JSON_BODY" || /JSON/i.test(fe.message ?? "")) {
          return ApiError.invalid(`The request body is not valid JSON: ${fe.message ?? "parse error"}`, null, "invalid_json");
        }
        return new ApiError(fe.statusCode, fe.message ?? "Bad request", "invalid_request_error", null, fe.code ?? null);
    }
  }
  return new ApiError(500, "The server had an error while processing the request.", "server_error", null, "internal_error");
}

export function sendError(reply: FastifyReply, err: ApiError, body: (err: ApiError) => unknown = (e) => e.body()): FastifyReply {
  return reply.status(err.status).headers(err.headers).send(body(err));
}

/** A Fastify error handler answering in the shape `body` gives (OpenAI's by default). */
export function errorHandlerWith(body?: (err: ApiError) => unknown) {
  return (err: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    const apiError = toApiError(err);
    if (apiError.status >= 500 && apiError.status !== 503) request.log.error({ err }, "request failed");
    void sendError(reply, apiError, body);
  };
}

export const errorHandler = errorHandlerWith();
