/*
 * Batched embeddings for a node-llama-cpp context: what its JavaScript API cannot do.
 *
 * node-llama-cpp 3.21.1 reads only sequence 0's pooled embedding (AddonContext::GetEmbedding), so
 * many inputs cannot share one llama_decode through it. Nimble decodes them itself, one sequence
 * per input, through the context's own batch methods (src/engine/embedding-batch.ts); this file
 * adds the two pieces that needs:
 *   - prepareEmbeddingContext: before the context is created, asks llama.cpp for every token's
 *     embedding (pooling "none") instead of pooled ones. llama.cpp pools per micro-batch, and with
 *     one KV stream per sequence (node-llama-cpp's setting, which keeps attention within each
 *     sequence) it splits a batch of unequal sequences into several micro-batches, so its pooled
 *     vector of a long sequence would cover only the sequence's last micro-batch.
 *   - readEmbeddings: pools each sequence's token embeddings (mean, first token, or last token)
 *     once the whole batch is decoded.
 * Both check the objects against the values Nimble passed before touching anything (llama-access.h).
 */
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "llama-access.h"

typedef uint32_t (*n_ctx_fn)(const void *ctx);
typedef int (*pooling_type_fn)(const void *ctx);
typedef float *(*embeddings_ith_fn)(void *ctx, int32_t i);
typedef int32_t (*model_n_embd_fn)(const void *model);

/* llama.h enum llama_pooling_type */
enum { POOLING_NONE = 0, POOLING_MEAN = 1, POOLING_CLS = 2, POOLING_LAST = 3 };

static napi_value string_value(napi_env env, const char *text) {
  napi_value value;
  napi_create_string_utf8(env, text, NAPI_AUTO_LENGTH, &value);
  return value;
}

static napi_value undefined_value(napi_env env) {
  napi_value value;
  napi_get_undefined(env, &value);
  return value;
}

/*
 * prepareEmbeddingContext(context, model, contextSize, batchSize, sequences) → undefined | reason.
 * Call on a fresh AddonContext (created with embeddings: true and these sizes), before init().
 */
static napi_value prepare_embedding_context(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return string_value(env, "prepareEmbeddingContext needs 5 arguments");
  uint32_t context_size = 0, batch_size = 0, sequences = 0;
  napi_get_value_uint32(env, argv[2], &context_size);
  napi_get_value_uint32(env, argv[3], &batch_size);
  napi_get_value_uint32(env, argv[4], &sequences);
  void *addon_context = NULL, *addon_model = NULL;
  if (napi_unwrap(env, argv[0], &addon_context) != napi_ok || addon_context == NULL) return string_value(env, "not a node-llama-cpp context");
  if (napi_unwrap(env, argv[1], &addon_model) != napi_ok || addon_model == NULL) return string_value(env, "not a node-llama-cpp model");
  char *base = addon_context;
  char *params = base + ADDON_CONTEXT_PARAMS_OFFSET;
  if (*(void **)(base + ADDON_CONTEXT_MODEL_OFFSET) != addon_model) return string_value(env, "unexpected node-llama-cpp context layout (model)");
  if (*(void **)(base + ADDON_CONTEXT_CTX_OFFSET) != NULL) return string_value(env, "the context is already initialised");
  if (*(uint32_t *)(params + LLAMA_PARAMS_N_CTX_OFFSET) != context_size || *(uint32_t *)(params + LLAMA_PARAMS_N_BATCH_OFFSET) != batch_size ||
      *(uint32_t *)(params + LLAMA_PARAMS_N_UBATCH_OFFSET) != batch_size || *(uint32_t *)(params + LLAMA_PARAMS_N_SEQ_MAX_OFFSET) != sequences) {
    return string_value(env, "unexpected node-llama-cpp context layout (sizes)");
  }
  uint8_t *embeddings = (uint8_t *)(params + LLAMA_PARAMS_EMBEDDINGS_OFFSET);
  uint8_t *kv_unified = (uint8_t *)(params + LLAMA_PARAMS_KV_UNIFIED_OFFSET);
  int32_t *pooling = (int32_t *)(params + LLAMA_PARAMS_POOLING_TYPE_OFFSET);
  if (*embeddings != 1 || *kv_unified != 0 || *pooling != -1 /* unspecified */) return string_value(env, "unexpected node-llama-cpp context layout (flags)");
  *pooling = POOLING_NONE;
  return undefined_value(env);
}

/*
 * embeddingContextInfo(context, model, sequences) → { cellsPerSequence } | reason: after init(),
 * checks the context is the one prepared (token embeddings, one KV stream per sequence).
 */
static napi_value embedding_context_info(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 3) return string_value(env, "embeddingContextInfo needs 3 arguments");
  uint32_t sequences = 0;
  napi_get_value_uint32(env, argv[2], &sequences);
  const char *error = NULL;
  void *ctx = context_pointer(env, argv[0], argv[1], sequences, &error);
  if (!ctx) return string_value(env, error);
  n_ctx_fn n_ctx = (n_ctx_fn)find_symbol("llama_n_ctx");
  n_ctx_fn n_ctx_seq = (n_ctx_fn)find_symbol("llama_n_ctx_seq");
  pooling_type_fn pooling_type = (pooling_type_fn)find_symbol("llama_pooling_type");
  if (!n_ctx || !n_ctx_seq || !pooling_type) return string_value(env, "llama.cpp functions not found");
  if (pooling_type(ctx) != POOLING_NONE) return string_value(env, "the context pools its embeddings");
  if ((uint64_t)n_ctx_seq(ctx) * sequences > n_ctx(ctx)) return string_value(env, "the KV cache is unified");
  napi_value result, value;
  napi_create_object(env, &result);
  napi_create_uint32(env, n_ctx_seq(ctx), &value);
  napi_set_named_property(env, result, "cellsPerSequence", value);
  return result;
}

static bool typed_array(napi_env env, napi_value value, napi_typedarray_type type, void **data, size_t *length) {
  bool is = false;
  napi_typedarray_type actual;
  if (napi_is_typedarray(env, value, &is) != napi_ok || !is) return false;
  if (napi_get_typedarray_info(env, value, &actual, length, data, NULL, NULL) != napi_ok) return false;
  return actual == type;
}

/*
 * readEmbeddings(context, model, sequences, firstIndexes: Int32Array, lengths: Int32Array, pooling, out: Float32Array)
 * → undefined | reason: after a decode, pools each input's token embeddings (batch indexes
 * [first, first + length)) into out, out.length / firstIndexes.length floats each. Pooling is the
 * model's: mean, CLS (first token), last token; none also gives the last token, as node-llama-cpp does.
 */
static napi_value read_embeddings(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 7) return string_value(env, "readEmbeddings needs 7 arguments");
  uint32_t sequences = 0;
  int32_t pooling = -1;
  napi_get_value_uint32(env, argv[2], &sequences);
  napi_get_value_int32(env, argv[5], &pooling);
  int32_t *first = NULL, *lengths = NULL;
  float *out = NULL;
  size_t n_inputs = 0, n_lengths = 0, n_out = 0;
  if (!typed_array(env, argv[3], napi_int32_array, (void **)&first, &n_inputs) || !typed_array(env, argv[4], napi_int32_array, (void **)&lengths, &n_lengths) ||
      !typed_array(env, argv[6], napi_float32_array, (void **)&out, &n_out) || n_inputs == 0 || n_lengths != n_inputs || n_out % n_inputs != 0 ||
      pooling < POOLING_NONE || pooling > POOLING_LAST) {
    return string_value(env, "readEmbeddings: bad arguments");
  }
  const char *error = NULL;
  void *ctx = context_pointer(env, argv[0], argv[1], sequences, &error);
  if (!ctx) return string_value(env, error);
  void *addon_model = NULL;
  napi_unwrap(env, argv[1], &addon_model);
  const void *model = *(void **)((char *)addon_model + ADDON_MODEL_MODEL_OFFSET);
  embeddings_ith_fn by_index = (embeddings_ith_fn)find_symbol("llama_get_embeddings_ith");
  model_n_embd_fn n_embd = (model_n_embd_fn)find_symbol("llama_model_n_embd_out");
  if (!by_index || !n_embd) return string_value(env, "llama.cpp functions not found");
  const size_t dims = n_out / n_inputs;
  if (dims > (size_t)n_embd(model)) return string_value(env, "readEmbeddings: unexpected embedding size");
  for (size_t i = 0; i < n_inputs; i++) {
    if (first[i] < 0 || lengths[i] <= 0) return string_value(env, "readEmbeddings: bad token range");
    float *target = out + i * dims;
    if (pooling == POOLING_MEAN) {
      memset(target, 0, dims * sizeof(float));
      for (int32_t t = 0; t < lengths[i]; t++) {
        const float *token = by_index(ctx, first[i] + t);
        if (token == NULL) return string_value(env, "llama.cpp returned no embedding for a token");
        for (size_t d = 0; d < dims; d++) target[d] += token[d];
      }
      for (size_t d = 0; d < dims; d++) target[d] /= (float)lengths[i];
    } else {
      const float *token = by_index(ctx, pooling == POOLING_CLS ? first[i] : first[i] + lengths[i] - 1);
      if (token == NULL) return string_value(env, "llama.cpp returned no embedding for a token");
      memcpy(target, token, dims * sizeof(float));
    }
  }
  return undefined_value(env);
}

void register_embedding_functions(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "prepareEmbeddingContext", NAPI_AUTO_LENGTH, prepare_embedding_context, NULL, &fn);
  napi_set_named_property(env, exports, "prepareEmbeddingContext", fn);
  napi_create_function(env, "embeddingContextInfo", NAPI_AUTO_LENGTH, embedding_context_info, NULL, &fn);
  napi_set_named_property(env, exports, "embeddingContextInfo", fn);
  napi_create_function(env, "readEmbeddings", NAPI_AUTO_LENGTH, read_embeddings, NULL, &fn);
  napi_set_named_property(env, exports, "readEmbeddings", fn);
}
