/*
 * lcnn_io.c: bytes in and out of tensors, and the file primitives that
 * cnn.save / cnn.load (lua/cnn/serialize.lua) build on:
 *   t:to_bytes()                          -> the elements as little-endian float32 bytes
 *   cnn.from_bytes(s, shape [, offset])   -> a tensor read from s at byte offset (1-based)
 *   cnn.crc32(s [, crc])                  -> zlib's CRC-32 of s
 *   cnn.write_file_atomic(path, data)     -> writes data so that path is either the old
 *                                            file or the complete new one, never partial
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <zlib.h>

#include "elementwise.h"
#include "lcnn.h"

static int m_to_bytes(lua_State *L) {
  cnn_tensor *t = lcnn_contiguous(L, 1);
  lua_pushlstring(L, (const char *)cnn_tensor_data(t), (size_t)cnn_tensor_numel(t) * sizeof(float));
  return 1;
}

static int f_from_bytes(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  int64_t shape[CNN_MAX_DIMS];
  luaL_checktype(L, 2, LUA_TTABLE);
  lua_Integer offset = luaL_optinteger(L, 3, 1);
  lua_settop(L, 2);
  int ndim = lcnn_checkshape(L, 2, shape, false, "from_bytes");
  int64_t n = cnn_shape_numel(ndim, shape);
  if (n < 0 || offset < 1 || (uint64_t)(offset - 1) > len || (uint64_t)n > (len - (size_t)(offset - 1)) / sizeof(float))
    lcnn_error(L, "from_bytes", "%zu bytes from offset %lld hold fewer than the %lld floats needed", len,
               (long long)offset, (long long)n);
  cnn_tensor *t = lcnn_newtensor(L, ndim, shape, "from_bytes");
  memcpy(cnn_tensor_data(t), s + offset - 1, (size_t)n * sizeof(float));
  return 1;
}

static int f_crc32(lua_State *L) {
  size_t len;
  const char *s = luaL_checklstring(L, 1, &len);
  uLong crc = (uLong)luaL_optinteger(L, 2, 0);
  while (len > 0) { /* zlib takes lengths as uInt */
    uInt chunk = len > (1u << 30) ? (1u << 30) : (uInt)len;
    crc = crc32(crc, (const Bytef *)s, chunk);
    s += chunk;
    len -= chunk;
  }
  lua_pushinteger(L, (lua_Integer)crc);
  return 1;
}

static int f_write_file_atomic(lua_State *L) {
  const char *path = luaL_checkstring(L, 1);
  size_t len;
  const char *data = luaL_checklstring(L, 2, &len);
  const char *tmp = lua_pushfstring(L, "%s.tmp.%d", path, (int)getpid());
  FILE *f = fopen(tmp, "wb");
  if (!f) return lcnn_error(L, "save", "cannot write %s: %s", path, strerror(errno));
  bool ok = fwrite(data, 1, len, f) == len && fflush(f) == 0 && fsync(fileno(f)) == 0;
  int err = errno;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) != 0) {
    if (ok) err = errno;
    remove(tmp);
    return lcnn_error(L, "save", "cannot write %s: %s", path, strerror(err));
  }
  return 0;
}

static const luaL_Reg functions[] = {{"from_bytes", f_from_bytes},
                                     {"crc32", f_crc32},
                                     {"write_file_atomic", f_write_file_atomic},
                                     {NULL, NULL}};

void lcnn_open_io(lua_State *L) {
  luaL_setfuncs(L, functions, 0);
  luaL_getmetatable(L, LCNN_TENSOR);
  lua_getfield(L, -1, "__index");
  lua_pushcfunction(L, m_to_bytes);
  lua_setfield(L, -2, "to_bytes");
  lua_pop(L, 2);
}
