-- Completes the module table that luaopen_cnn builds in C: the Lua-written
-- submodules (cnn.nn, cnn.optim, ...) load on first use, and cnn.save /
-- cnn.load come from cnn.serialize.
return function(cnn)
  if package and package.loaded and package.loaded.cnn == nil then
    package.loaded.cnn = cnn -- so that the Lua modules can require it
  end
  local submodules = { nn = "cnn.nn", optim = "cnn.optim", data = "cnn.data", image = "cnn.image" }
  setmetatable(cnn, {
    __index = function(t, key)
      local name = submodules[key]
      if not name then return nil end
      local m = require(name)
      rawset(t, key, m)
      return m
    end,
  })
  function cnn.save(path, value)
    return require("cnn.serialize").save(path, value)
  end
  function cnn.load(path)
    return require("cnn.serialize").load(path)
  end
end
