-- Batch transforms for data.loader: each returns a function from an
-- N x C x H x W batch to a new batch. Random ones draw from the library's
-- seeded generator, one draw per image.
local cnn = require "cnn"

local transforms = {}

-- Shifts each image by up to k pixels in each direction, filling with zeros
-- (as padding by k and cropping back at a random place).
function transforms.random_translate(k)
  if math.type(k) ~= "integer" or k < 0 then error("random_translate: k must be a non-negative integer", 2) end
  return function(x) return cnn.random_translate(x, k) end
end

-- Mirrors each image left to right with probability p (0.5).
function transforms.hflip(p)
  p = p or 0.5
  if type(p) ~= "number" or p < 0 or p > 1 then error("hflip: p must be in [0, 1]", 2) end
  return function(x) return cnn.random_hflip(x, p) end
end

-- (x - mean) / std, with numbers or per-channel tables.
function transforms.normalize(mean, std)
  local function per_channel(v, what)
    if type(v) == "number" then return v end
    if type(v) ~= "table" then error("normalize: " .. what .. " must be a number or a table", 3) end
    return cnn.tensor(v):view(#v, 1, 1)
  end
  local m, s = per_channel(mean, "mean"), per_channel(std, "std")
  return function(x) return (x - m) / s end
end

-- Applies the transforms in order.
function transforms.compose(list)
  return function(x)
    for _, t in ipairs(list) do x = t(x) end
    return x
  end
end

return transforms
