/** Streams several choices over one SSE response: pieces as they come, a final chunk per choice, usage, [DONE]. */
import type { GenerationPiece, GenerationResult } from "../../engine/types.js";
import { toApiError } from "../errors.js";
import type { Choice } from "../generation.js";
import type { SseWriter } from "../sse.js";

/** Builds the chunks of a stream: a piece may give no chunk (text held back) or several. */
export interface ChunkFactory {
  piece(choice: Choice, piece: GenerationPiece): unknown[];
  end(choice: Choice, result: GenerationResult): unknown[];
  usage?: (results: GenerationResult[]) => unknown;
}

export async function streamChoices(sse: SseWriter, choices: Choice[], cancel: AbortController, make: ChunkFactory): Promise<void> {
  const results: GenerationResult[] = [];
  try {
    await sse.untilExpired(Promise.all(
      choices.map(async (c) => {
        for await (const piece of c.stream) for (const chunk of make.piece(c, piece)) sse.send(chunk);
        const result = await c.stream.result;
        results[c.index] = result;
        if (result.finishReason !== "abort") for (const chunk of make.end(c, result)) sse.send(chunk);
      }),
    ));
  } catch (err) {
    cancel.abort();
    // The status line is sent: report the failure in the stream itself.
    sse.error(toApiError(err).body());
    sse.done();
    return;
  }
  if (make.usage) sse.send(make.usage(results));
  sse.done();
}
