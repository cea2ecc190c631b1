/*
 * lcnn_embed.h: the Lua half of the library, compiled in. tools/embed.lua
 * turns each file under lua/ into an entry of lcnn_luafiles, which
 * luaopen_cnn registers in package.preload.
 */
#ifndef LCNN_EMBED_H
#define LCNN_EMBED_H

#include <stddef.h>

typedef struct lcnn_luafile {
  const char *module; /* "cnn.nn.Linear" */
  const char *path;   /* "lua/cnn/nn/Linear.lua", for error messages */
  const char *source;
  size_t length;
} lcnn_luafile;

extern const lcnn_luafile lcnn_luafiles[]; /* ends with an entry whose module is NULL */

#endif
