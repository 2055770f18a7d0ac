/*
 * What the addon's parts share: the layout of node-llama-cpp 3.21.1's native objects, and the
 * lookups that reach its llama_context (defined in threadpool.c).
 */
#ifndef NIMBLE_LLAMA_ACCESS_H
#define NIMBLE_LLAMA_ACCESS_H

#include <node_api.h>
#include <stdint.h>

/*
 * Layout of node-llama-cpp 3.21.1's AddonContext / AddonModel (64-bit). To recompute for another
 * version: clone node_modules/node-llama-cpp/llama/gitRelease.bundle, then compile a file that
 * includes node-llama-cpp's llama/addon/AddonContext.h and AddonModel.h (include paths: that addon
 * folder, the clone's include/, ggml/include/ and common/, node_modules/node-addon-api, Node's
 * headers) and defines `const size_t x = offsetof(AddonContext, ctx);` etc.; `g++ -S` shows the values.
 * The LLAMA_PARAMS_* offsets are offsetof(struct llama_context_params, …) from the clone's include/llama.h
 * (a plain C file: `printf("%zu", offsetof(struct llama_context_params, pooling_type))`).
 */
#define ADDON_CONTEXT_MODEL_OFFSET 32
#define ADDON_CONTEXT_PARAMS_OFFSET 40
#define LLAMA_PARAMS_N_CTX_OFFSET 0
#define LLAMA_PARAMS_N_BATCH_OFFSET 4
#define LLAMA_PARAMS_N_UBATCH_OFFSET 8
#define LLAMA_PARAMS_N_SEQ_MAX_OFFSET 12
#define LLAMA_PARAMS_POOLING_TYPE_OFFSET 44
#define LLAMA_PARAMS_EMBEDDINGS_OFFSET 128
#define LLAMA_PARAMS_KV_UNIFIED_OFFSET 133
#define ADDON_CONTEXT_CTX_OFFSET 200
#define ADDON_MODEL_MODEL_OFFSET 136

typedef uint32_t (*n_seq_max_fn)(const void *ctx);

/* A llama.cpp/ggml function from the libraries node-llama-cpp loaded; NULL if not found. */
void *find_symbol(const char *name);

/* The llama_context* of an AddonContext, after checking the object is what we expect; NULL (and *error) otherwise. */
void *context_pointer(napi_env env, napi_value js_context, napi_value js_model, uint32_t sequences, const char **error);

/* Adds the embedding functions (embeddings.c) to the module's exports. */
void register_embedding_functions(napi_env env, napi_value exports);

/* Adds the sequence-state functions (kv-state.c) to the module's exports. */
void register_kv_state_functions(napi_env env, napi_value exports);

/* Adds greedy sampling on the calling thread (greedy.c) to the module's exports. */
void register_greedy_functions(napi_env env, napi_value exports);

/* Adds the stdout/stderr capture (output-capture.c) to the module's exports. */
void register_output_capture_functions(napi_env env, napi_value exports);

#endif
