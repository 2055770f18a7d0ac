/*
 * Greedy sampling without a trip to libuv's thread pool: the most likely token of one output row
 * of the last decode, read on the calling thread.
 *
 * node-llama-cpp samples on libuv's pool (an AsyncWorker per call): at one stream on 2 cores that
 * hop is ~0.2 ms of a ~6-ms step. For a request whose sampler is plain greedy (temperature 0, no
 * grammar, penalties or biases) its chain is llama.cpp's greedy sampler alone, whose choice is the
 * first token with the highest logit; this does the same over llama_get_logits_ith's row.
 *   - greedyToken(context, model, sequences, outputIndex) → token id, or -1 when the logits are not
 *     plain rows (no logits, or backend sampling in use): the caller then uses the sampler.
 * Call it only between decode steps (the scheduler does): llama.cpp's context is not thread-safe.
 */
#include <node_api.h>
#include <stdint.h>
#include "llama-access.h"

typedef float *(*get_logits_ith_fn)(void *ctx, int32_t i);
typedef const void *(*get_model_fn)(const void *ctx);
typedef const void *(*model_get_vocab_fn)(const void *model);
typedef int32_t (*vocab_n_tokens_fn)(const void *vocab);
typedef void *(*get_sampled_ith_fn)(void *ctx, int32_t i);

static napi_value int_value(napi_env env, int32_t value) {
  napi_value result;
  napi_create_int32(env, value, &result);
  return result;
}

static napi_value greedy_token(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 4) {
    napi_throw_error(env, NULL, "too few arguments");
    return NULL;
  }
  uint32_t sequences = 0;
  int32_t index = -1;
  napi_get_value_uint32(env, argv[2], &sequences);
  if (napi_get_value_int32(env, argv[3], &index) != napi_ok || index < 0) {
    napi_throw_error(env, NULL, "output index out of range");
    return NULL;
  }
  const char *error = NULL;
  void *ctx = context_pointer(env, argv[0], argv[1], sequences, &error);
  if (!ctx) {
    napi_throw_error(env, NULL, error);
    return NULL;
  }
  static get_logits_ith_fn get_logits_ith;
  static get_model_fn get_model;
  static model_get_vocab_fn model_get_vocab;
  static vocab_n_tokens_fn vocab_n_tokens;
  static get_sampled_ith_fn sampled_probs, sampled_logits;
  if (!get_logits_ith) {
    get_model = (get_model_fn)find_symbol("llama_get_model");
    model_get_vocab = (model_get_vocab_fn)find_symbol("llama_model_get_vocab");
    vocab_n_tokens = (vocab_n_tokens_fn)find_symbol("llama_vocab_n_tokens");
    sampled_probs = (get_sampled_ith_fn)find_symbol("llama_get_sampled_probs_ith");
    sampled_logits = (get_sampled_ith_fn)find_symbol("llama_get_sampled_logits_ith");
    get_logits_ith = (get_logits_ith_fn)find_symbol("llama_get_logits_ith");
  }
  if (!get_logits_ith || !get_model || !model_get_vocab || !vocab_n_tokens) return int_value(env, -1);
  // Backend sampling replaces the logit rows with candidates: leave that to node-llama-cpp's sampler.
  if ((sampled_probs && sampled_probs(ctx, index)) || (sampled_logits && sampled_logits(ctx, index))) return int_value(env, -1);
  const float *logits = get_logits_ith(ctx, index);
  const void *vocab = model_get_vocab(get_model(ctx));
  const int32_t n = vocab ? vocab_n_tokens(vocab) : 0;
  if (!logits || n <= 0) return int_value(env, -1);
  // llama_sampler_greedy: the first index whose logit is greater than every earlier one's maximum.
  int32_t best = 0;
  for (int32_t i = 1; i < n; i++) {
    if (logits[i] > logits[best]) best = i;
  }
  return int_value(env, best);
}

void register_greedy_functions(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "greedyToken", NAPI_AUTO_LENGTH, greedy_token, NULL, &fn);
  napi_set_named_property(env, exports, "greedyToken", fn);
}
