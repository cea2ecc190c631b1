-- cnn.image: PNG files as C x H x W tensors in [0, 1], resampling, and tiling
-- batches or filters into one picture (docs/data.md).
local cnn = require "cnn"

local image = {}

function image.load(path)
  if type(path) ~= "string" then error("image.load: path must be a string, got " .. type(path), 2) end
  return cnn.read_png(path)
end

-- Writes a C x H x W (C = 1..4) or H x W image, clamped to [0, 1], as 8-bit PNG.
function image.save(path, t)
  if type(path) ~= "string" then error("image.save: path must be a string, got " .. type(path), 2) end
  if not cnn.is_tensor(t) then error("image.save: expected a tensor, got " .. type(t), 2) end
  if t:dim() == 2 then t = t:view(1, t:size(1), t:size(2)) end
  cnn.write_png(path, t)
end

-- Resampling of a C x H x W image or N x C x H x W batch to h x w: bilinear
-- (as PyTorch's interpolate with align_corners = false), or "nearest"
-- (PyTorch's nearest: source index floor(i * in / out)).
function image.resize(t, h, w, mode)
  if mode == nil or mode == "bilinear" then return cnn.resize_bilinear(t, h, w) end
  if mode ~= "nearest" then error("image.resize: mode must be 'bilinear' or 'nearest', got " .. tostring(mode), 2) end
  if not cnn.is_tensor(t) or (t:dim() ~= 3 and t:dim() ~= 4) then
    error("image.resize: expected a C x H x W image or an N x C x H x W batch", 2)
  end
  if math.type(h) ~= "integer" or math.type(w) ~= "integer" or h < 1 or w < 1 then
    error("image.resize: size must be positive integers", 2)
  end
  local function rows(out, size)
    local idx = {}
    for i = 1, out do idx[i] = (i - 1) * size // out + 1 end
    return idx
  end
  local d = t:dim()
  return t:index_select(d - 1, rows(h, t:size(d - 1))):index_select(d, rows(w, t:size(d)))
end

-- Tiles images into one C x H x W picture, nrow images per row (8), with
-- padding pixels (2) of pad_value (0) between them. t is N x C x H x W with C
-- 1 or 3; other channel counts (conv filters) show each channel as a gray
-- tile. normalize scales each tile to [0, 1] (useful for filters).
function image.grid(t, opts)
  opts = opts or {}
  if not cnn.is_tensor(t) or (t:dim() ~= 3 and t:dim() ~= 4) then
    error("image.grid: expected an N x C x H x W batch or a C x H x W stack", 2)
  end
  if t:dim() == 3 then t = t:view(t:size(1), 1, t:size(2), t:size(3)) end
  if t:size(2) ~= 1 and t:size(2) ~= 3 then t = t:reshape(t:size(1) * t:size(2), 1, t:size(3), t:size(4)) end
  local n, c, h, w = table.unpack(t:shape())
  local nrow = math.min(opts.nrow or 8, math.max(n, 1))
  local pad = opts.padding or 2
  local rows = (n + nrow - 1) // nrow
  local out = cnn.full({ c, rows * (h + pad) + pad, nrow * (w + pad) + pad }, opts.pad_value or 0)
  for i = 1, n do
    local tile = t:select(1, i)
    if opts.normalize then
      local lo, hi = tile:min(), tile:max()
      tile = (tile - lo) / (hi > lo and hi - lo or 1)
    end
    local r, col = (i - 1) // nrow, (i - 1) % nrow
    out:narrow(2, r * (h + pad) + pad + 1, h):narrow(3, col * (w + pad) + pad + 1, w):copy_(tile)
  end
  return out
end

return image
