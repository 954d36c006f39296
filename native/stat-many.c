/*
 * statMany(base, paths, from, to): stat(2) of base + paths[i] for i in [from, to), in one call.
 * Returns a Float64Array of 4 per path: size, mtimeMs, ctimeMs, ino, computed exactly as Node's
 * fs.statSync computes them (ms = sec * 1e3 + nsec / 1e6 in doubles; built with
 * -ffp-contract=off so no fused multiply-add changes the rounding). A path that cannot be
 * stat'ed gets size -1. Node's statSync builds a Stats object with four Dates per file; for the
 * 10,000 files a warm `vault-loop analyze` checks, that costs more than the system calls.
 * Optional: the analyzer uses statSync when this addon is not built (see src/analysis/stat-many.ts).
 */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#if defined(__APPLE__)
#define MTIME(st) (st).st_mtimespec
#define CTIME(st) (st).st_ctimespec
#else
#define MTIME(st) (st).st_mtim
#define CTIME(st) (st).st_ctim
#endif

static char *utf8(napi_env env, napi_value v, size_t *len) {
  if (napi_get_value_string_utf8(env, v, NULL, 0, len) != napi_ok) return NULL;
  char *s = malloc(*len + 1);
  if (s && napi_get_value_string_utf8(env, v, s, *len + 1, len) != napi_ok) {
    free(s);
    return NULL;
  }
  return s;
}

static napi_value StatMany(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  uint32_t from, to, length;
  size_t blen;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4 ||
      napi_get_array_length(env, argv[1], &length) != napi_ok || napi_get_value_uint32(env, argv[2], &from) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &to) != napi_ok || from > to || to > length) {
    napi_throw_type_error(env, NULL, "statMany(base: string, paths: string[], from: number, to: number)");
    return NULL;
  }
  char *base = utf8(env, argv[0], &blen);
  if (!base) {
    napi_throw_type_error(env, NULL, "statMany: base must be a string");
    return NULL;
  }
  double *out = NULL;
  napi_value buffer, result;
  size_t cap = blen + 256;
  char *path = malloc(cap);
  if (!path || napi_create_arraybuffer(env, (size_t)(to - from) * 4 * sizeof(double), (void **)&out, &buffer) != napi_ok ||
      napi_create_typedarray(env, napi_float64_array, (size_t)(to - from) * 4, buffer, 0, &result) != napi_ok) {
    free(path);
    free(base);
    napi_throw_error(env, NULL, "statMany: out of memory");
    return NULL;
  }
  memcpy(path, base, blen);
  for (uint32_t i = from; i < to; i++) {
    double *o = out + (size_t)(i - from) * 4;
    napi_value item;
    size_t len;
    o[0] = -1;
    o[1] = o[2] = o[3] = 0;
    if (napi_get_element(env, argv[1], i, &item) != napi_ok || napi_get_value_string_utf8(env, item, NULL, 0, &len) != napi_ok) continue;
    if (blen + len + 1 > cap) {
      cap = blen + len + 256;
      char *grown = realloc(path, cap);
      if (!grown) continue;
      path = grown;
    }
    napi_get_value_string_utf8(env, item, path + blen, len + 1, &len);
    struct stat st;
    if (strlen(path) != blen + len || stat(path, &st) != 0) continue; /* a NUL inside a name: not a path */
    o[0] = (double)st.st_size;
    o[1] = (double)MTIME(st).tv_sec * 1e3 + (double)MTIME(st).tv_nsec / 1e6;
    o[2] = (double)CTIME(st).tv_sec * 1e3 + (double)CTIME(st).tv_nsec / 1e6;
    o[3] = (double)st.st_ino;
  }
  free(path);
  free(base);
  return result;
}

/* The layout of statMany's answer; src/analysis/stat-many.ts loads only the version it reads. */
#define LAYOUT 1

static napi_value Init(napi_env env, napi_value exports) {
  napi_value fn, layout;
  napi_create_function(env, "statMany", NAPI_AUTO_LENGTH, StatMany, NULL, &fn);
  napi_set_named_property(env, exports, "statMany", fn);
  napi_create_uint32(env, LAYOUT, &layout);
  napi_set_named_property(env, exports, "layout", layout);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
