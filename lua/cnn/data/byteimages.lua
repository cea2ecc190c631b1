-- Images kept as their file's bytes, one per pixel (a quarter of the memory of
-- float32), converted to float tensors a batch at a time. Answers the calls a
-- loader and the training script make of a set's images: size, dim, shape,
-- numel, narrow and index_select along the first dimension, float/clone.
local cnn = require "cnn"

local B = {}
B.__index = B

-- block: a cnn.bytes from cnn.read_idx(path, {bytes = true}); shape: the
-- images' shape {N, ...}; divisor: each byte is divided by it.
function B.new(block, shape, divisor)
  local row = 1
  for d = 2, #shape do row = row * shape[d] end
  if #block ~= shape[1] * row then
    error(string.format("byte images: %d bytes for %d images of %d", #block, shape[1], row), 2)
  end
  return setmetatable({ block = block, shape_ = shape, divisor = divisor or 1, first = 0 }, B)
end

function B.is(x) return getmetatable(x) == B end

function B:dim() return #self.shape_ end
function B:shape() return table.move(self.shape_, 1, #self.shape_, 1, {}) end
function B:numel()
  local n = 1
  for _, s in ipairs(self.shape_) do n = n * s end
  return n
end
function B:size(d)
  if d == nil then return self:shape() end
  local s = self.shape_[d]
  if not s then error(string.format("size: dimension %s out of range 1..%d", tostring(d), #self.shape_), 2) end
  return s
end

local function check_first(dim, fname)
  if dim ~= 1 then error(fname .. ": byte images are indexed along dimension 1 only, got " .. tostring(dim), 3) end
end

-- Images [first, first + n) as byte images again (no copy).
function B:narrow(dim, first, n)
  check_first(dim, "narrow")
  local N = self.shape_[1]
  if math.type(first) ~= "integer" or math.type(n) ~= "integer" or first < 1 or n < 0 or first + n - 1 > N then
    error(string.format("narrow: %s images from %s out of range for %d images", tostring(n), tostring(first), N), 2)
  end
  local shape = self:shape()
  shape[1] = n
  return setmetatable({ block = self.block, shape_ = shape, divisor = self.divisor, first = self.first + first - 1 }, B)
end

local function row_shape(self) return table.move(self.shape_, 2, #self.shape_, 1, {}) end

-- The images at 1-based indices (a 1-d tensor or a table), as a float tensor.
function B:index_select(dim, indices)
  check_first(dim, "index_select")
  local N = self.shape_[1]
  if cnn.is_tensor(indices) then
    if indices:numel() > 0 and (indices:min() < 1 or indices:max() > N) then
      error(string.format("index_select: indices %g..%g out of range 1..%d", indices:min(), indices:max(), N), 2)
    end
    if self.first > 0 then indices = indices + self.first end
  else
    local shifted = {}
    for i, v in ipairs(indices) do
      if math.type(v) ~= "integer" or v < 1 or v > N then
        error(string.format("index_select: index %s at position %d out of range 1..%d", tostring(v), i, N), 2)
      end
      shifted[i] = v + self.first
    end
    indices = shifted
  end
  return cnn.gather_bytes(self.block, row_shape(self), indices, self.divisor)
end

-- All the images as a float tensor.
function B:float()
  local N = self.shape_[1]
  if N == 0 then return cnn.zeros(table.unpack(self.shape_)) end
  return cnn.gather_bytes(self.block, row_shape(self), cnn.arange(self.first + 1, self.first + N + 1), self.divisor)
end
B.clone = B.float

function B:__tostring()
  return string.format("byte images (%s)", table.concat(self.shape_, "x"))
end

return B
