-- cnn.data: IDX files, Fashion-MNIST, and a batching loader with seeded
-- shuffling and augmentation (docs/data.md).
local cnn = require "cnn"

local data = {}

data.transforms = require "cnn.data.transforms"
data.ByteImages = require "cnn.data.byteimages"

-- Where Debian's dataset-fashion-mnist package installs the data set.
data.FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"

data.fashion_mnist_classes = { "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
  "Bag", "Ankle boot" }

-- An IDX file (plain or gzip-compressed) as a float tensor of its shape.
function data.idx(path)
  if type(path) ~= "string" then error("idx: path must be a string, got " .. type(path), 2) end
  return cnn.read_idx(path)
end

local function exists(path)
  local f = io.open(path, "rb")
  if f then f:close() end
  return f ~= nil
end

-- train, test: {images = N x 1 x 28 x 28 in [0, 1], labels = N labels in 1..10, classes = names}.
-- opts.bytes: images kept as bytes (data.ByteImages), converted a batch at a time.
-- opts.split = "train" or "test": only that set is read and returned.
function data.fashion_mnist(dir, opts)
  dir = dir or data.FASHION_MNIST_DIR
  opts = opts or {}
  for k in pairs(opts) do
    if k ~= "bytes" and k ~= "split" then error("fashion_mnist: unknown option '" .. tostring(k) .. "'", 2) end
  end
  if opts.split ~= nil and opts.split ~= "train" and opts.split ~= "test" then
    error(string.format("fashion_mnist: split must be \"train\" or \"test\", got %s", tostring(opts.split)), 2)
  end
  local function find(base)
    for _, name in ipairs({ base .. ".gz", base }) do
      if exists(dir .. "/" .. name) then return dir .. "/" .. name end
    end
    error(string.format("fashion_mnist: %s(.gz) not found in %s; Fashion-MNIST comes with Debian's "
      .. "dataset-fashion-mnist package (apt-get install dataset-fashion-mnist), or pass the directory "
      .. "that holds its files", base, dir), 0)
  end
  local function load(prefix)
    local ipath, lpath = find(prefix .. "-images-idx3-ubyte"), find(prefix .. "-labels-idx1-ubyte")
    local images, block, shape
    if opts.bytes then
      block, shape = cnn.read_idx(ipath, { bytes = true })
    else
      images = data.idx(ipath)
      shape = images:shape()
    end
    local labels = data.idx(lpath)
    if #shape ~= 3 then
      error(string.format("fashion_mnist: %s holds shape (%s), expected N x H x W images", ipath,
        table.concat(shape, ", ")), 0)
    end
    if labels:dim() ~= 1 or labels:size(1) ~= shape[1] then
      error(string.format("fashion_mnist: %s holds %s labels for %d images in %s", lpath,
        table.concat(labels:shape(), " x "), shape[1], ipath), 0)
    end
    if labels:numel() > 0 and (labels:min() < 0 or labels:max() > 9) then
      error(string.format("fashion_mnist: %s holds labels outside 0..9", lpath), 0)
    end
    return {
      images = images and images:view(shape[1], 1, shape[2], shape[3]):div_(255)
        or data.ByteImages.new(block, { shape[1], 1, shape[2], shape[3] }, 255),
      labels = labels:add_(1),
      classes = data.fashion_mnist_classes,
    }
  end
  if opts.split == "train" then return load("train") end
  if opts.split == "test" then return load("t10k") end
  return load("train"), load("t10k")
end

local Loader = {}
Loader.__index = Loader

local loader_keys = { batch_size = true, shuffle = true, drop_last = true, transform = true, shard = true }

-- Batches of a set {images = N x ..., labels = N}: for images, labels in L:iter() do ... end
function data.loader(set, opts)
  opts = opts or {}
  for k in pairs(opts) do
    if not loader_keys[k] then error("loader: unknown option '" .. tostring(k) .. "'", 2) end
  end
  if type(set) ~= "table" or not (cnn.is_tensor(set.images) or data.ByteImages.is(set.images))
    or not cnn.is_tensor(set.labels) then
    error("loader: expected a set {images = tensor or byte images, labels = tensor}", 2)
  end
  local n = set.images:size(1)
  if set.labels:dim() ~= 1 or set.labels:size(1) ~= n then
    error(string.format("loader: %d images but %d labels", n, set.labels:numel()), 2)
  end
  local bs = opts.batch_size or 64
  if math.type(bs) ~= "integer" or bs < 1 then error("loader: batch_size must be a positive integer", 2) end
  if opts.transform ~= nil and type(opts.transform) ~= "function" then
    error("loader: transform must be a function", 2)
  end
  local loader = { set = set, n = n, batch_size = bs, shuffle = opts.shuffle == true,
    drop_last = opts.drop_last == true, transform = opts.transform }
  if opts.shard ~= nil then
    local s = opts.shard
    if type(s) ~= "table" or math.type(s[1]) ~= "integer" or math.type(s[2]) ~= "integer" or s[1] < 1 or s[1] > s[2] then
      error("loader: shard must be {rank, size} with 1 <= rank <= size", 2)
    end
    -- every rank draws the same orders: from a generator of the loader's own,
    -- seeded once here from the library's (seeded alike on every rank)
    loader.rank, loader.ranks = s[1], s[2]
    loader.seed, loader.epoch = math.floor(cnn.rand(1):item() * 2 ^ 24), 0
  end
  return setmetatable(loader, Loader)
end

-- Positions [first, last] of batch b in the epoch's order (for this rank when sharded).
function Loader:batch_range(b)
  local bs, ranks = self.batch_size, self.ranks or 1
  local first = (b - 1) * bs * ranks + 1
  local size = math.min(bs * ranks, self.n - first + 1)
  if ranks == 1 then return first, size end
  local per, extra = size // ranks, size % ranks -- split as evenly as possible
  local r = self.rank - 1
  return first + r * per + math.min(r, extra), per + (r < extra and 1 or 0)
end

function Loader:__len()
  local global = self.batch_size * (self.ranks or 1)
  local full, rest = self.n // global, self.n % global
  if self.drop_last or rest < (self.ranks or 1) then return full end
  return full + 1
end

-- One epoch. With shuffle, each call draws a new order from the library's
-- generator (a sharded loader's own generator). opts.skip skips that many
-- batches (after drawing the order), for resuming inside an epoch.
function Loader:iter(opts)
  local order
  if self.shuffle and self.ranks then
    self.epoch = self.epoch + 1
    order = cnn.randperm(self.n, self.seed + self.epoch)
  elseif self.shuffle then
    order = cnn.randperm(self.n)
  end
  local b, count = opts and opts.skip or 0, #self
  local images, labels = self.set.images, self.set.labels
  return function()
    b = b + 1
    if b > count then return nil end
    local first, size = self:batch_range(b)
    local x, y
    if order then
      local idx = order:narrow(1, first, size)
      x, y = images:index_select(1, idx), labels:index_select(1, idx)
    else
      x, y = images:narrow(1, first, size), labels:narrow(1, first, size)
      if not cnn.is_tensor(x) then x = x:float() end
    end
    if self.transform then x = self.transform(x) end
    return x, y
  end
end

return data
