/*
 * Captures what native code writes to the process's stdout and stderr (file descriptors 1 and 2)
 * between outputCaptureStart() and outputCaptureEnd(). llama.cpp prints why a grammar does not
 * parse with fprintf(stderr), and node-llama-cpp's log callback falls back to printing llama.cpp's
 * log lines on stdout (errors) once its JavaScript logger is unset (it is, after a second Llama
 * instance registers its own). Nimble compiles grammars inside a capture: the reason goes into
 * the 400 sent to the client and to the debug log, instead of onto the server's terminal.
 * Call both from the JavaScript thread around synchronous work only.
 */
#ifdef __linux__
#define _GNU_SOURCE
#include <sys/mman.h>
#endif
#include <node_api.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/types.h>
#include <unistd.h>
#include "llama-access.h"

/* At most this much of each captured stream comes back (the rest is dropped). */
#define CAPTURE_LIMIT 65536

typedef struct {
  int fd;
  int saved;
  FILE *file;
} capture_t;

static capture_t captures[2] = { { 1, -1, NULL }, { 2, -1, NULL } };
static bool capturing = false;

/* A memory file where the system has them (no disk, works on a read-only root), else a temporary file. */
static FILE *capture_file_open(void) {
#if defined(__linux__) && defined(MFD_CLOEXEC)
  int fd = memfd_create("nimble-output-capture", MFD_CLOEXEC);
  if (fd >= 0) {
    FILE *f = fdopen(fd, "w+");
    if (f) return f;
    close(fd);
  }
#endif
  return tmpfile();
}

static bool start_one(capture_t *c) {
  FILE *f = capture_file_open();
  int saved = f ? dup(c->fd) : -1;
  if (f && saved >= 0 && dup2(fileno(f), c->fd) >= 0) {
    c->saved = saved;
    c->file = f;
    return true;
  }
  if (saved >= 0) close(saved);
  if (f) fclose(f);
  return false;
}

/* Restores the descriptor and returns what was written to it (a JavaScript string). */
static napi_value end_one(napi_env env, capture_t *c) {
  napi_value result;
  dup2(c->saved, c->fd);
  close(c->saved);
  c->saved = -1;
  int fd = fileno(c->file);
  off_t size = lseek(fd, 0, SEEK_END);
  size_t want = size <= 0 ? 0 : (size_t)size > CAPTURE_LIMIT ? CAPTURE_LIMIT : (size_t)size;
  char *text = want > 0 ? malloc(want) : NULL;
  ssize_t got = text ? pread(fd, text, want, 0) : 0;
  napi_create_string_utf8(env, text ? text : "", got > 0 ? (size_t)got : 0, &result);
  free(text);
  fclose(c->file);
  c->file = NULL;
  return result;
}

/* outputCaptureStart() → true when stdout and stderr now go to temporary files; false when a capture is already on or it failed. */
static napi_value capture_start(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result;
  bool ok = false;
  if (!capturing) {
    fflush(stdout);
    fflush(stderr);
    if (start_one(&captures[0])) {
      if (start_one(&captures[1])) ok = true;
      else { napi_value ignored = end_one(env, &captures[0]); (void)ignored; }
    }
    capturing = ok;
  }
  napi_get_boolean(env, ok, &result);
  return result;
}

/* outputCaptureEnd() → [stdout text, stderr text] written since the start (empty strings when no capture was on). Restores both. */
static napi_value capture_end(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value result, out, err;
  napi_create_array_with_length(env, 2, &result);
  if (capturing) {
    fflush(stdout);
    fflush(stderr);
    out = end_one(env, &captures[0]);
    err = end_one(env, &captures[1]);
    capturing = false;
  } else {
    napi_create_string_utf8(env, "", 0, &out);
    napi_create_string_utf8(env, "", 0, &err);
  }
  napi_set_element(env, result, 0, out);
  napi_set_element(env, result, 1, err);
  return result;
}

void register_output_capture_functions(napi_env env, napi_value exports) {
  napi_value fn;
  napi_create_function(env, "outputCaptureStart", NAPI_AUTO_LENGTH, capture_start, NULL, &fn);
  napi_set_named_property(env, exports, "outputCaptureStart", fn);
  napi_create_function(env, "outputCaptureEnd", NAPI_AUTO_LENGTH, capture_end, NULL, &fn);
  napi_set_named_property(env, exports, "outputCaptureEnd", fn);
}
