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
  -- t:roll(shift [, dim]) / cnn.roll(t, shift [, dim]): a copy with the elements
  -- moved shift places along dim, those falling off the end coming back at the
  -- start (torch.roll). Without dim, the flattened tensor is rolled. shift and
  -- dim may be tables of equal length, rolling along several dimensions.
  local methods = getmetatable(cnn.empty(0)).__index
  function methods.roll(t, shift, dim)
    if type(shift) == "table" then
      if type(dim) ~= "table" or #dim ~= #shift then error("roll: shifts and dims must be tables of one length", 2) end
      for i = 1, #shift do t = t:roll(shift[i], dim[i]) end
      return t
    end
    if math.type(shift) ~= "integer" then error("roll: shift must be an integer, got " .. tostring(shift), 2) end
    if dim == nil then return t:reshape(-1):roll(shift, 1):view(t:shape()) end
    local n = t:size(dim)
    local out = t:clone()
    if n == 0 then return out end
    local s = shift % n
    if s == 0 then return out end
    out:narrow(dim, s + 1, n - s):copy_(t:narrow(dim, 1, n - s))
    out:narrow(dim, 1, s):copy_(t:narrow(dim, n - s + 1, s))
    return out
  end
  function cnn.roll(t, shift, dim)
    if not cnn.is_tensor(t) then error("roll: expected a tensor, got " .. type(t), 2) end
    return t:roll(shift, dim)
  end

  function cnn.save(path, value)
    return require("cnn.serialize").save(path, value)
  end
  function cnn.load(path)
    return require("cnn.serialize").load(path)
  end
end
