/*
 * Persistent CPU thread pool for node-llama-cpp contexts.
 *
 * node-llama-cpp (3.21.1, non-OpenMP prebuilt binaries) attaches no thread pool to its llama.cpp
 * contexts, so ggml creates and destroys its worker threads for every graph computation: on a
 * small machine a 2-thread decode step of one token took 10 ms instead of 3. llama.cpp's own
 * tools attach a persistent pool (common.cpp: llama_attach_threadpool). This addon does the same
 * for a context node-llama-cpp created.
 *
 * It reaches node-llama-cpp's native AddonContext through N-API (napi_unwrap) and reads two of
 * its fields at offsets computed from node-llama-cpp 3.21.1's headers. Before trusting them it
 * checks the object against values it knows (the model pointer, the sequence count, and what
 * llama.cpp itself reports for the context); on any mismatch it attaches nothing and says why.
 * The llama.cpp and ggml functions are looked up in the libraries node-llama-cpp already loaded.
 * The same addon also carries the batched-embedding helpers (embeddings.c); the layout offsets and
 * the lookups they share are declared in llama-access.h.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <node_api.h>
#include "llama-access.h"
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#ifdef __APPLE__
#include <mach-o/dyld.h>
#else
#include <link.h>
#endif

/* From ggml.h of the same llama.cpp release. */
#define GGML_MAX_N_THREADS 512
struct ggml_threadpool_params {
  bool cpumask[GGML_MAX_N_THREADS];
  int n_threads;
  int prio;
  uint32_t poll;
  bool strict_cpu;
  bool paused;
};

typedef void *(*fn_ptr)(void);
typedef struct ggml_threadpool_params (*params_default_fn)(int);
typedef void *(*threadpool_new_fn)(struct ggml_threadpool_params *);
typedef void (*threadpool_free_fn)(void *);
typedef void (*attach_fn)(void *ctx, void *tp, void *tp_batch);
typedef void (*detach_fn)(void *ctx);
typedef const void *(*get_model_fn)(const void *ctx);
typedef void *(*dev_by_type_fn)(int type);
typedef void *(*dev_backend_reg_fn)(void *dev);
typedef void *(*reg_get_proc_address_fn)(void *reg, const char *name);

/* Finds a symbol in the libraries loaded from node-llama-cpp's binaries folder. */
struct lookup {
  const char *name;
  void *found;
};

static void *symbol_in(const char *path, const char *name) {
  if (path == NULL || strstr(path, "llama") == NULL) return NULL;
  void *handle = dlopen(path, RTLD_LAZY | RTLD_NOLOAD);
  if (handle == NULL) return NULL;
  void *sym = dlsym(handle, name);
  dlclose(handle);
  return sym;
}

#ifdef __APPLE__
void *find_symbol(const char *name) {
  uint32_t count = _dyld_image_count();
  for (uint32_t i = 0; i < count; i++) {
    void *sym = symbol_in(_dyld_get_image_name(i), name);
    if (sym) return sym;
  }
  return NULL;
}
#else
static int visit(struct dl_phdr_info *info, size_t size, void *data) {
  (void)size;
  struct lookup *l = data;
  l->found = symbol_in(info->dlpi_name, l->name);
  return l->found != NULL;
}

void *find_symbol(const char *name) {
  struct lookup l = {name, NULL};
  dl_iterate_phdr(visit, &l);
  return l.found;
}
#endif

static napi_value make_result(napi_env env, void *pool, const char *error) {
  napi_value result, value;
  napi_create_object(env, &result);
  napi_get_boolean(env, pool != NULL, &value);
  napi_set_named_property(env, result, "attached", value);
  if (pool != NULL) {
    napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)pool, &value);
    napi_set_named_property(env, result, "handle", value);
  } else {
    napi_create_string_utf8(env, error, NAPI_AUTO_LENGTH, &value);
    napi_set_named_property(env, result, "reason", value);
  }
  return result;
}

/* The llama_context* of an AddonContext, after checking the object is what we expect; NULL otherwise. */
void *context_pointer(napi_env env, napi_value js_context, napi_value js_model, uint32_t sequences, const char **error) {
  void *addon_context = NULL, *addon_model = NULL;
  if (napi_unwrap(env, js_context, &addon_context) != napi_ok || addon_context == NULL) { *error = "not a node-llama-cpp context"; return NULL; }
  if (napi_unwrap(env, js_model, &addon_model) != napi_ok || addon_model == NULL) { *error = "not a node-llama-cpp model"; return NULL; }
  char *base = addon_context;
  if (*(void **)(base + ADDON_CONTEXT_MODEL_OFFSET) != addon_model) { *error = "unexpected node-llama-cpp context layout (model)"; return NULL; }
  if (*(uint32_t *)(base + ADDON_CONTEXT_PARAMS_OFFSET + LLAMA_PARAMS_N_SEQ_MAX_OFFSET) != sequences) { *error = "unexpected node-llama-cpp context layout (sequences)"; return NULL; }
  void *ctx = *(void **)(base + ADDON_CONTEXT_CTX_OFFSET);
  const void *llama_model = *(void **)((char *)addon_model + ADDON_MODEL_MODEL_OFFSET);
  n_seq_max_fn n_seq_max = (n_seq_max_fn)find_symbol("llama_n_seq_max");
  get_model_fn get_model = (get_model_fn)find_symbol("llama_get_model");
  if (!ctx || !llama_model || !n_seq_max || !get_model) { *error = "llama.cpp functions not found"; return NULL; }
  if (get_model(ctx) != llama_model || n_seq_max(ctx) != sequences) { *error = "unexpected node-llama-cpp context layout (llama_context)"; return NULL; }
  return ctx;
}

/* attach(context._ctx, model._model, sequences, threads, poll) → { attached, handle | reason } */
static napi_value attach(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  if (argc < 5) return make_result(env, NULL, "attach needs 5 arguments");
  uint32_t sequences = 0, threads = 0, poll = 0;
  napi_get_value_uint32(env, argv[2], &sequences);
  napi_get_value_uint32(env, argv[3], &threads);
  napi_get_value_uint32(env, argv[4], &poll);
  if (threads < 1) return make_result(env, NULL, "threads must be at least 1");

  const char *error = NULL;
  void *ctx = context_pointer(env, argv[0], argv[1], sequences, &error);
  if (!ctx) return make_result(env, NULL, error);

  params_default_fn params_default = (params_default_fn)find_symbol("ggml_threadpool_params_default");
  attach_fn attach_pool = (attach_fn)find_symbol("llama_attach_threadpool");
  dev_by_type_fn dev_by_type = (dev_by_type_fn)find_symbol("ggml_backend_dev_by_type");
  dev_backend_reg_fn dev_backend_reg = (dev_backend_reg_fn)find_symbol("ggml_backend_dev_backend_reg");
  reg_get_proc_address_fn get_proc = (reg_get_proc_address_fn)find_symbol("ggml_backend_reg_get_proc_address");
  if (!params_default || !attach_pool || !dev_by_type || !dev_backend_reg || !get_proc) return make_result(env, NULL, "ggml functions not found");
  void *cpu_dev = dev_by_type(0 /* GGML_BACKEND_DEVICE_TYPE_CPU */);
  if (!cpu_dev) return make_result(env, NULL, "no CPU backend");
  threadpool_new_fn pool_new = (threadpool_new_fn)get_proc(dev_backend_reg(cpu_dev), "ggml_threadpool_new");
  if (!pool_new) return make_result(env, NULL, "the CPU backend has no thread pool");

  struct ggml_threadpool_params params = params_default((int)threads);
  params.poll = poll;
  void *pool = pool_new(&params);
  if (!pool) return make_result(env, NULL, "thread pool creation failed");
  attach_pool(ctx, pool, NULL);
  return make_result(env, pool, NULL);
}

/* detach(context._ctx, model._model, sequences, handle): detaches and frees the pool. */
static napi_value detach(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  napi_value ok;
  napi_get_boolean(env, false, &ok);
  if (argc < 4) return ok;
  uint32_t sequences = 0;
  napi_get_value_uint32(env, argv[2], &sequences);
  uint64_t handle = 0;
  bool lossless = false;
  napi_get_value_bigint_uint64(env, argv[3], &handle, &lossless);
  const char *error = NULL;
  void *ctx = context_pointer(env, argv[0], argv[1], sequences, &error);
  detach_fn detach_pool = (detach_fn)find_symbol("llama_detach_threadpool");
  dev_by_type_fn dev_by_type = (dev_by_type_fn)find_symbol("ggml_backend_dev_by_type");
  dev_backend_reg_fn dev_backend_reg = (dev_backend_reg_fn)find_symbol("ggml_backend_dev_backend_reg");
  reg_get_proc_address_fn get_proc = (reg_get_proc_address_fn)find_symbol("ggml_backend_reg_get_proc_address");
  if (!ctx || !detach_pool || !dev_by_type || !dev_backend_reg || !get_proc || !handle) return ok;
  detach_pool(ctx);
  threadpool_free_fn pool_free = (threadpool_free_fn)get_proc(dev_backend_reg(dev_by_type(0)), "ggml_threadpool_free");
  if (pool_free) pool_free((void *)(uintptr_t)handle);
  napi_get_boolean(env, true, &ok);
  return ok;
}

NAPI_MODULE_INIT(/* napi_env env, napi_value exports */) {
  napi_value fn;
  napi_create_function(env, "attach", NAPI_AUTO_LENGTH, attach, NULL, &fn);
  napi_set_named_property(env, exports, "attach", fn);
  napi_create_function(env, "detach", NAPI_AUTO_LENGTH, detach, NULL, &fn);
  napi_set_named_property(env, exports, "detach", fn);
  register_embedding_functions(env, exports);
  register_kv_state_functions(env, exports);
  register_greedy_functions(env, exports);
  register_output_capture_functions(env, exports);
  return exports;
}
