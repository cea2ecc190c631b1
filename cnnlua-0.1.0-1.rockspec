-- LuaRocks package of the cnn module for Lua 5.4: `luarocks make` in a
-- checkout builds build/cnn.so with the Makefile and installs it, so that
-- `require "cnn"` works (the Lua half of the library is compiled in).
-- The Debian packages of the Makefile's `make deps` must be installed.
rockspec_format = "3.0"
package = "cnnlua"
version = "0.1.0-1"
source = {
  url = "git+file://./cnnlua",
}
description = {
  summary = "A Lua-scriptable neural-network runtime written in C",
  detailed = [[
    float32 tensors with views and broadcasting, convolution, pooling, batch
    normalisation and losses with their gradients, nn modules, optimizers,
    data loaders and PNG images, exact against PyTorch's numerics.
  ]],
  license = "MIT",
}
dependencies = {
  "lua >= 5.4, < 5.5",
}
build = {
  type = "make",
  build_target = "module",
  build_variables = {
    LUA = "$(LUA)",
    LUA_INCDIR = "$(LUA_INCDIR)",
  },
  install_target = "install-module",
  install_variables = {
    LUA_CMODDIR = "$(LIBDIR)",
  },
}
