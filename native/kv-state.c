/*
 * A sequence's KV cells in and out of a node-llama-cpp context: what the KV cache tier and the
 * shared-prefix burst need and node-llama-cpp 3.21.1 offers only through files.
 *   - seqStateGet / seqStateSet: llama_state_seq_get_data / llama_state_seq_set_data into and out of
 *     a Node Buffer (the host-memory tier keeps these buffers; the disk tier writes them with a header
 *     and a checksum, checked in JavaScript before the bytes come back here).
 *   - seqCopy: llama_memory_seq_cp of a whole sequence onto another (one KV stream per sequence: a
 *     buffer copy that llama.cpp performs at the start of the next decode).
 * Every call checks the context against the model and sequence count Nimble passed (llama-access.h)
 * and the sequence ids against that count before touching llama.cpp. Call them only between decode
 * steps (the scheduler does): llama.cpp's context is not thread-safe.
 */
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "llama-access.h"

typedef size_t (*state_seq_get_size_fn)(void *ctx, int32_t seq);
typedef size_t (*state_seq_get_data_fn)(void *ctx, uint8_t *dst, size_t size, int32_t seq);
typedef size_t (*state_seq_set_data_fn)(void *ctx, const uint8_t *src, size_t size, int32_t seq);
typedef void *(*get_memory_fn)(const void *ctx);
typedef void (*memory_seq_cp_fn)(void *mem, int32_t src, int32_t dst, int32_t p0, int32_t p1);

static napi_value throw_error(napi_env env, const char *message) {
  napi_throw_error(env, NULL, message);
  return NULL;
}

/* Reads (context, model, sequences, seq...) and returns the llama_context*, or NULL after throwing. */
static void *checked_context(napi_env env, napi_value *argv, size_t argc, size_t need, int32_t *seqs, size_t nseqs) {
  if (argc < need) { throw_error(env, "too few arguments"); return NULL; }
  uint32_t sequences = 0;
  napi_get_value_uint32(env, argv[2], &sequences);
  for (size_t i = 0; i < nseqs; i++) {
    int32_t seq = -1;
    if (napi_get_value_int32(env, argv[3 + i], &seq) != napi_ok || seq < 0 || (uint32_t)seq >= sequences) {
      throw_error(env, "sequence id out of range");
      return NULL;
    }
    seqs[i] = seq;
  }
  const char *error = NULL;
  void *ctx = context_pointer(env, argv[0], argv[1], sequences, &error);
  if (!ctx) { throw_error(env, error); return NULL; }
  return ctx;
}

/* seqStateGet(context, model, sequences, seq) → Buffer with the sequence's state (empty if it holds nothing). */
static napi_value seq_state_get(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t seq;
  void *ctx = checked_context(env, argv, argc, 4, &seq, 1);
  if (!ctx) return NULL;
  state_seq_get_size_fn get_size = (state_seq_get_size_fn)find_symbol("llama_state_seq_get_size");
  state_seq_get_data_fn get_data = (state_seq_get_data_fn)find_symbol("llama_state_seq_get_data");
  if (!get_size || !get_data) return throw_error(env, "llama.cpp state functions not found");
  size_t size = get_size(ctx, seq);
  void *data = NULL;
  napi_value buffer;
  if (napi_create_buffer(env, size, &data, &buffer) != napi_ok) return throw_error(env, "out of memory");
  if (size > 0 && get_data(ctx, data, size, seq) != size) return throw_error(env, "llama_state_seq_get_data failed");
  return buffer;
}

/* seqStateSet(context, model, sequences, seq, buffer) → bytes read (0: llama.cpp refused the state; the sequence is then empty). */
static napi_value seq_state_set(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t seq;
  void *ctx = checked_context(env, argv, argc, 5, &seq, 1);
  if (!ctx) return NULL;
  void *data = NULL;
  size_t size = 0;
  bool is_buffer = false;
  napi_is_buffer(env, argv[4], &is_buffer);
  if (!is_buffer || napi_get_buffer_info(env, argv[4], &data, &size) != napi_ok) return throw_error(env, "state must be a Buffer");
  state_seq_set_data_fn set_data = (state_seq_set_data_fn)find_symbol("llama_state_seq_set_data");
  if (!set_data) return throw_error(env, "llama.cpp state functions not found");
  size_t read = size > 0 ? set_data(ctx, data, size, seq) : 0;
  napi_value result;
  napi_create_double(env, (double)read, &result);
  return result;
}

/* seqCopy(context, model, sequences, src, dst): dst becomes a copy of all of src's cells. */
static napi_value seq_copy(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t seqs[2];
  void *ctx = checked_context(env, argv, argc, 5, seqs, 2);
  if (!ctx) return NULL;
  get_memory_fn get_memory = (get_memory_fn)find_symbol("llama_get_memory");
  memory_seq_cp_fn seq_cp = (memory_seq_cp_fn)find_symbol("llama_memory_seq_cp");
  if (!get_memory || !seq_cp) return throw_error(env, "llama.cpp memory functions not found");
  void *mem = get_memory(ctx);
  if (!mem) return throw_error(env, "the context has no memory");
  if (seqs[0] != seqs[1]) seq_cp(mem, seqs[0], seqs[1], -1, -1);
  napi_value result;
  napi_get_boolean(env, true, &result);
  return result;
}

void register_kv_state_functions(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "seqStateGet", NAPI_AUTO_LENGTH, seq_state_get, NULL, &fn);
  napi_set_named_property(env, exports, "seqStateGet", fn);
  napi_create_function(env, "seqStateSet", NAPI_AUTO_LENGTH, seq_state_set, NULL, &fn);
  napi_set_named_property(env, exports, "seqStateSet", fn);
  napi_create_function(env, "seqCopy", NAPI_AUTO_LENGTH, seq_copy, NULL, &fn);
  napi_set_named_property(env, exports, "seqCopy", fn);
}
