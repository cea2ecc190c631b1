-- cnn.data: IDX files, Fashion-MNIST and the loader (docs/data.md).
local cnn = require "cnn"
local data = cnn.data
local H = require "support.helpers"

local tmpdir = H.tmpdir
local write = H.write
local idx_bytes, fake_fashion = H.idx_bytes, H.fake_fashion

describe("data.idx", function()
  it("reads unsigned bytes and the other element types, big-endian", function()
    local dir = tmpdir()
    write(dir .. "/u8", idx_bytes({ 2, 3 }, "\0\1\2\253\254\255"))
    H.assert_tensor(data.idx(dir .. "/u8"), { { 0, 1, 2 }, { 253, 254, 255 } })
    write(dir .. "/i16", string.pack(">BBBB I4 i2 i2", 0, 0, 0x0B, 1, 2, -300, 1000))
    H.assert_tensor(data.idx(dir .. "/i16"), { -300, 1000 })
    write(dir .. "/f32", string.pack(">BBBB I4 f f", 0, 0, 0x0D, 1, 2, 1.5, -2.25))
    H.assert_tensor(data.idx(dir .. "/f32"), { 1.5, -2.25 })
    write(dir .. "/f64", string.pack(">BBBB I4 d", 0, 0, 0x0E, 1, 1, 0.125))
    H.assert_tensor(data.idx(dir .. "/f64"), { 0.125 })
    write(dir .. "/i8", string.pack(">BBBB I4 b b", 0, 0, 0x09, 1, 2, -5, 7))
    H.assert_tensor(data.idx(dir .. "/i8"), { -5, 7 })
    os.execute("rm -rf " .. dir)
  end)

  it("reads gzip-compressed files", function()
    local dir = tmpdir()
    write(dir .. "/a", idx_bytes({ 4 }, "\9\8\7\6"))
    assert(os.execute("gzip -k " .. dir .. "/a"))
    H.assert_tensor(data.idx(dir .. "/a.gz"), { 9, 8, 7, 6 })
    os.execute("rm -rf " .. dir)
  end)

  it("rejects wrong magic, truncated and overlong files, naming the file", function()
    local dir = tmpdir()
    write(dir .. "/magic", "PK\3\4....")
    assert.error_matches(function() data.idx(dir .. "/magic") end, "idx: " .. dir .. "/magic: not an IDX file")
    write(dir .. "/short", idx_bytes({ 2, 3 }, "\1\2\3"))
    assert.error_matches(function() data.idx(dir .. "/short") end,
      "short: truncated: the header announces 6 bytes of data, the file has 3")
    write(dir .. "/long", idx_bytes({ 2 }, "\1\2\3"))
    assert.error_matches(function() data.idx(dir .. "/long") end, "long: 1 bytes more than the header announces")
    write(dir .. "/head", "\0\0\8\3\0\0")
    assert.error_matches(function() data.idx(dir .. "/head") end, "head: truncated header")
    write(dir .. "/dims", "\0\0\8\0")
    assert.error_matches(function() data.idx(dir .. "/dims") end, "dims: 0 dimensions")
    assert.error_matches(function() data.idx(dir .. "/none") end, "idx: cannot open " .. dir .. "/none: No such file")
    os.execute("rm -rf " .. dir)
  end)

  it("rejects corrupt and truncated gzip data", function()
    local dir = tmpdir()
    write(dir .. "/a", idx_bytes({ 1000 }, string.rep("\1\2\3\4\5", 200)))
    assert(os.execute("gzip " .. dir .. "/a"))
    local f = assert(io.open(dir .. "/a.gz", "rb"))
    local gz = f:read("a")
    f:close()
    write(dir .. "/cut.gz", gz:sub(1, #gz - 10))
    assert.error_matches(function() data.idx(dir .. "/cut.gz") end, "cut.gz: corrupt or truncated gzip data")
    write(dir .. "/bad.gz", gz:sub(1, 12) .. string.rep("\255", #gz - 12))
    assert.error_matches(function() data.idx(dir .. "/bad.gz") end, "bad.gz: corrupt or truncated gzip data")
    os.execute("rm -rf " .. dir)
  end)
end)

describe("data.fashion_mnist", function()
  it("loads a directory of IDX files as images in [0, 1] and 1-based labels", function()
    local dir = tmpdir()
    fake_fashion(dir, 30, 12)
    local train, test = data.fashion_mnist(dir)
    assert.are.same({ 30, 1, 28, 28 }, train.images:shape())
    assert.are.same({ 12 }, test.labels:shape())
    assert.are.equal(1, train.labels:min())
    assert.are.equal(10, train.labels:max())
    assert.are.equal(1, train.images:max())
    assert.are.equal(cnn.tensor(7 / 255):item(), train.images:get(2, 1, 1, 1))
    assert.are.equal("Ankle boot", train.classes[10])
    os.execute("rm -rf " .. dir)
  end)

  it("reads one set alone with {split = ...}", function()
    local dir = tmpdir()
    fake_fashion(dir, 30, 12)
    local train, test = data.fashion_mnist(dir)
    local only, none = data.fashion_mnist(dir, { split = "train", bytes = true })
    assert.is_nil(none)
    assert.is_true(only.images:float():equal(train.images) and only.labels:equal(train.labels))
    local t = data.fashion_mnist(dir, { split = "test" })
    assert.is_true(t.images:equal(test.images) and t.labels:equal(test.labels))
    os.remove(dir .. "/train-images-idx3-ubyte")
    os.remove(dir .. "/train-images-idx3-ubyte.gz")
    assert.are.same({ 12, 1, 28, 28 }, data.fashion_mnist(dir, { split = "test" }).images:shape()) -- train unread
    assert.error_matches(function() data.fashion_mnist(dir, { split = "validation" }) end,
      'fashion_mnist: split must be "train" or "test", got validation')
    os.execute("rm -rf " .. dir)
  end)

  it("names the Debian package when the data set is missing", function()
    assert.error_matches(function() data.fashion_mnist("/nonexistent") end,
      "train%-images%-idx3%-ubyte%(.gz%) not found in /nonexistent; .*apt%-get install dataset%-fashion%-mnist")
  end)

  it("rejects labels out of range and mismatched counts", function()
    local dir = tmpdir()
    fake_fashion(dir, 5, 5, { bad_label = true })
    assert.error_matches(function() data.fashion_mnist(dir) end, "labels outside 0..9")
    write(dir .. "/train-labels-idx1-ubyte", idx_bytes({ 4 }, "\1\2\3\4"))
    assert.error_matches(function() data.fashion_mnist(dir) end, "holds 4 labels for 5 images")
    os.execute("rm -rf " .. dir)
  end)

  it("loads the real data set installed by make deps", function()
    local train, test = data.fashion_mnist()
    assert.are.same({ 60000, 1, 28, 28 }, train.images:shape())
    assert.are.same({ 10000 }, test.labels:shape())
    assert.are.equal(0, train.images:min())
    assert.are.equal(1, train.images:max())
    for c = 1, 10 do -- 6000 training images of each class
      assert.are.equal(6000, 60000 - (train.labels - c):abs():clamp(0, 1):sum())
    end
  end)
end)

describe("data.loader", function()
  local set = { images = cnn.arange(10):view(10, 1, 1, 1), labels = cnn.arange(1, 11) }

  it("batches in order, with a short last batch unless drop_last", function()
    local L = data.loader(set, { batch_size = 4 })
    assert.are.equal(3, #L)
    local sizes = {}
    for x, y in L:iter() do
      sizes[#sizes + 1] = x:size(1)
      assert.is_true(y:equal(x:view(-1) + 1))
    end
    assert.are.same({ 4, 4, 2 }, sizes)
    assert.are.equal(2, #data.loader(set, { batch_size = 4, drop_last = true }))
  end)

  it("shuffles with the library's seed, covering every sample once per epoch", function()
    local L = data.loader(set, { batch_size = 3, shuffle = true })
    local function epoch()
      local seen = {}
      for x, y in L:iter() do
        for i = 1, y:numel() do seen[#seen + 1] = y:get(i) end
      end
      return seen
    end
    cnn.seed(5)
    local a, b = epoch(), epoch()
    cnn.seed(5)
    assert.are.same(a, epoch())
    assert.are_not.same(a, b)
    table.sort(a)
    assert.are.same({ 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 }, a)
  end)

  it("skips batches for resuming inside an epoch", function()
    local L = data.loader(set, { batch_size = 4 })
    local x = L:iter({ skip = 2 })()
    assert.are.same({ 8, 9 }, x:view(-1):totable())
  end)

  it("applies the transform to each batch", function()
    local L = data.loader(set, { batch_size = 5, transform = function(x) return x * 10 end })
    assert.are.equal(100, L:iter()():sum())
  end)

  it("rejects bad sets and options", function()
    assert.error_matches(function() data.loader({ images = cnn.zeros(3, 1) }) end, "expected a set")
    assert.error_matches(function() data.loader({ images = cnn.zeros(3, 1), labels = cnn.zeros(2) }) end,
      "3 images but 2 labels")
    assert.error_matches(function() data.loader(set, { batchsize = 2 }) end, "unknown option 'batchsize'")
    assert.error_matches(function() data.loader(set, { batch_size = 0 }) end, "batch_size must be a positive integer")
  end)
end)

describe("data sets kept as bytes", function()
  it("cnn.read_idx(path, {bytes = true}) keeps the elements and cnn.gather_bytes converts rows", function()
    local dir = tmpdir()
    write(dir .. "/u8", idx_bytes({ 3, 2, 2 }, "\0\1\2\3\4\5\6\7\8\9\10\255"))
    local block, shape = cnn.read_idx(dir .. "/u8", { bytes = true })
    assert.are.same({ 3, 2, 2 }, shape)
    assert.are.equal(12, #block)
    assert.matches("cnn.bytes %(12 bytes%)", tostring(block))
    local floats = data.idx(dir .. "/u8")
    local rows = cnn.gather_bytes(block, { 2, 2 }, { 3, 1, 3 }, 255)
    assert.are.same({ 3, 2, 2 }, rows:shape())
    assert.is_true(rows:equal(floats:index_select(1, { 3, 1, 3 }) / 255)) -- the same rounding as the float path
    assert.is_true(cnn.gather_bytes(block, { 4 }, cnn.arange(1, 4)):equal(floats:view(3, 4)))
    assert.error_matches(function() cnn.gather_bytes(block, { 2, 2 }, { 4 }) end,
      "gather_bytes: index 4 at position 1 out of range 1..3 for the rows of the block")
    assert.error_matches(function() cnn.gather_bytes(block, { 2, 2 }, { 1.5 }) end, "index 1.5 at position 1")
    assert.error_matches(function() cnn.gather_bytes(block, { 13 }, { 1 }) end, "out of range 1..0")
    assert.error_matches(function() cnn.gather_bytes(block, { 4 }, { 1 }, 0) end, "divisor 0 is not")
    assert.error_matches(function() cnn.gather_bytes(block, { 1, 1, 1, 1, 1, 1, 1, 1 }, { 1 }) end,
      "gather_bytes: rows of 8 dimensions")
    assert.error_matches(function() cnn.gather_bytes(floats, { 4 }, { 1 }) end, "cnn.bytes expected")
    write(dir .. "/f32", string.pack(">BBBBI4f", 0, 0, 0x0D, 1, 1, 1.5))
    assert.error_matches(function() cnn.read_idx(dir .. "/f32", { bytes = true }) end,
      "idx: " .. dir .. "/f32: elements of type 0x0D, not unsigned bytes")
    write(dir .. "/short", idx_bytes({ 2, 3 }, "\1\2\3"))
    assert.error_matches(function() cnn.read_idx(dir .. "/short", { bytes = true }) end, "short: truncated")
    assert.error_matches(function() cnn.read_idx(dir .. "/u8", { byte = true }) end, "idx: unknown option 'byte'")
    os.execute("rm -rf " .. dir)
  end)

  it("fashion_mnist(dir, {bytes = true}) batches exactly as the float set does", function()
    local dir = tmpdir()
    fake_fashion(dir, 50, 7)
    local ftrain, ftest = data.fashion_mnist(dir)
    local btrain, btest = data.fashion_mnist(dir, { bytes = true })
    assert.is_true(data.ByteImages.is(btrain.images))
    assert.are.same({ 50, 1, 28, 28 }, btrain.images:shape())
    assert.are.same(ftrain.images:size(), btrain.images:size())
    assert.are.equal(4, btrain.images:dim())
    assert.are.equal(50 * 784, btrain.images:numel())
    assert.are.equal(28, btrain.images:size(3))
    assert.is_true(btest.images:float():equal(ftest.images))
    assert.is_true(btest.labels:equal(ftest.labels))
    local part = btrain.images:narrow(1, 11, 20)
    assert.are.same({ 20, 1, 28, 28 }, part:shape())
    assert.is_true(part:clone():equal(ftrain.images:narrow(1, 11, 20)))
    assert.is_true(part:index_select(1, { 20, 1 }):equal(ftrain.images:index_select(1, { 30, 11 })))
    assert.is_true(part:index_select(1, cnn.tensor({ 2, 3 })):equal(ftrain.images:index_select(1, { 12, 13 })))
    assert.error_matches(function() part:index_select(1, { 21 }) end, "index 21 at position 1 out of range 1..20")
    assert.error_matches(function() part:narrow(1, 20, 2) end, "narrow: 2 images from 20 out of range for 20 images")
    assert.error_matches(function() part:narrow(2, 1, 1) end, "along dimension 1 only")
    assert.is_true(part:narrow(1, 5, 0):float():equal(cnn.zeros(0, 1, 28, 28)))
    for _, shuffle in ipairs({ false, true }) do
      cnn.seed(5)
      local fb = {}
      for x, y in data.loader(ftrain, { batch_size = 16, shuffle = shuffle }):iter() do fb[#fb + 1] = { x, y } end
      cnn.seed(5)
      local i = 0
      for x, y in data.loader(btrain, { batch_size = 16, shuffle = shuffle }):iter() do
        i = i + 1
        assert.is_true(cnn.is_tensor(x))
        assert.is_true(x:equal(fb[i][1]) and y:equal(fb[i][2]), "batch " .. i)
      end
      assert.are.equal(#fb, i)
    end
    assert.error_matches(function() data.fashion_mnist(dir, { byte = true }) end, "unknown option 'byte'")
    os.execute("rm -rf " .. dir)
  end)
end)

describe("data.transforms", function()
  it("random_translate shifts each image by up to k pixels with zero fill", function()
    cnn.seed(9)
    local x = cnn.zeros(200, 1, 5, 5)
    x:select(3, 3):select(3, 3):fill_(1) -- one lit pixel in the middle
    local y = data.transforms.random_translate(2)(x)
    assert.are.equal(200, y:sum()) -- the pixel stays inside: shifts of at most 2
    local positions = {}
    for i = 1, 200 do positions[y:select(1, i):view(-1):argmax()] = true end
    local count = 0
    for _ in pairs(positions) do count = count + 1 end
    assert.are.equal(25, count) -- every shift in [-2, 2]^2 happens
    local edge = cnn.ones(50, 1, 4, 4)
    assert.is_true(data.transforms.random_translate(1)(edge):sum() < 50 * 16) -- zeros come in
  end)

  it("hflip mirrors about half the images", function()
    cnn.seed(10)
    local x = cnn.arange(4):view(1, 1, 1, 4):reshape(1, 1, 1, 4)
    local batch = cnn.zeros(100, 1, 1, 4):add_(x)
    local y = data.transforms.hflip()(batch)
    local flipped = 0
    for i = 1, 100 do
      local row = y:select(1, i):view(-1)
      if row:get(1) == 3 then flipped = flipped + 1 else assert.are.same({ 0, 1, 2, 3 }, row:totable()) end
    end
    assert.is_true(flipped > 30 and flipped < 70)
    assert.are.same({ 3, 2, 1, 0 }, data.transforms.hflip(1)(x):view(-1):totable())
  end)

  it("normalize and compose", function()
    local t = data.transforms.compose { data.transforms.normalize(0.5, 0.25), function(x) return x + 1 end }
    H.assert_tensor(t(cnn.full({ 1, 1, 1, 2 }, 1)), { { { { 3, 3 } } } })
    local rgb = data.transforms.normalize({ 0, 1, 2 }, { 1, 1, 2 })(cnn.ones(1, 3, 1, 1))
    H.assert_tensor(rgb:view(-1), { 1, 0, -0.5 })
  end)
end)
