-- cnn.image: PNG reading and writing of every kind of PNG, resampling against
-- PyTorch, grids, and bad files (docs/data.md).
local cnn = require "cnn"
local image = cnn.image
local H = require "support.helpers"
local R = require "support.reference"
local W = require "support.pngwriter"

local function tmp(suffix)
  local p = os.tmpname()
  os.remove(p)
  return p .. (suffix or ".png")
end

local read, write = H.read, H.write

describe("image.load", function()
  local cases = {
    { "8-bit gray", 8, 0, { { 0, 128 }, { 255, 64 } }, 1, { { { 0, 128 / 255 }, { 1, 64 / 255 } } } },
    { "1-bit gray", 1, 0, { { 0, 1 }, { 1, 0 } }, 1, { { { 0, 1 }, { 1, 0 } } } },
    { "4-bit gray", 4, 0, { { 0, 15 }, { 5, 10 } }, 1, { { { 0, 1 }, { 1 / 3, 2 / 3 } } } },
    { "16-bit gray", 16, 0, { { 0, 65535 }, { 1, 32768 } }, 1, { { { 0, 1 }, { 1 / 65535, 32768 / 65535 } } } },
    { "gray + alpha", 8, 4, { { 255, 0, 0, 255 }, { 51, 102, 153, 204 } }, 2,
      { { { 1, 0 }, { 0.2, 0.6 } }, { { 0, 1 }, { 0.4, 0.8 } } } },
    { "RGB", 8, 2, { { 255, 0, 0, 0, 255, 0 }, { 0, 0, 255, 51, 51, 51 } }, 3,
      { { { 1, 0 }, { 0, 0.2 } }, { { 0, 1 }, { 0, 0.2 } }, { { 0, 0 }, { 1, 0.2 } } } },
    { "16-bit RGBA", 16, 6, { { 65535, 0, 0, 65535, 0, 65535, 0, 0 }, { 0, 0, 65535, 65535, 0, 0, 0, 65535 } }, 4,
      { { { 1, 0 }, { 0, 0 } }, { { 0, 1 }, { 0, 0 } }, { { 0, 0 }, { 1, 0 } }, { { 1, 0 }, { 1, 1 } } } },
  }
  for _, c in ipairs(cases) do
    it("reads " .. c[1] .. " as " .. c[5] .. " channels in [0, 1]", function()
      local path = tmp()
      W.write(path, 2, 2, c[2], c[3], c[4])
      H.assert_tensor(image.load(path), c[6], 1e-6)
      os.remove(path)
    end)
  end

  it("reads palette images as RGB, or RGBA with transparency", function()
    local path = tmp()
    local palette = { { 255, 0, 0 }, { 0, 0, 255 }, { 0, 255, 0 } }
    W.write(path, 3, 1, 8, 3, { { 0, 1, 2 } }, { palette = palette })
    H.assert_tensor(image.load(path), { { { 1, 0, 0 } }, { { 0, 0, 1 } }, { { 0, 1, 0 } } })
    W.write(path, 3, 1, 2, 3, { { 2, 0, 1 } }, { palette = palette, trns = "\0\255" })
    H.assert_tensor(image.load(path), { { { 0, 1, 0 } }, { { 1, 0, 0 } }, { { 0, 0, 1 } }, { { 1, 0, 1 } } })
    os.remove(path)
  end)

  it("rejects missing, foreign, truncated and corrupt files, naming them", function()
    assert.error_matches(function() image.load("/nonexistent.png") end,
      "image.load: cannot open /nonexistent.png: No such file")
    local path = tmp()
    write(path, "GIF89a not a png")
    assert.error_matches(function() image.load(path) end, "image.load: " .. path .. ": not a PNG file")
    W.write(path, 16, 16, 8, 0, (function()
      local rows = {}
      for y = 1, 16 do
        rows[y] = {}
        for x = 1, 16 do rows[y][x] = (x * y) % 256 end
      end
      return rows
    end)())
    local good = read(path)
    write(path, good:sub(1, #good - 40))
    assert.error_matches(function() image.load(path) end, "image.load: " .. path .. ": ")
    local pos = good:find("IDAT", 1, true) + 20
    write(path, good:sub(1, pos - 1) .. "\0" .. good:sub(pos + 1))
    assert.error_matches(function() image.load(path) end, "image.load: " .. path .. ": IDAT: ")
    os.remove(path)
  end)
end)

describe("image.save", function()
  it("round-trips 1 to 4 channels at 8-bit precision", function()
    cnn.seed(61)
    local path = tmp()
    for c = 1, 4 do
      local img = cnn.rand(c, 5, 7)
      image.save(path, img)
      assert.is_true(image.load(path):allclose(img, 0, 0.5 / 255 + 1e-6))
    end
    image.save(path, cnn.full({ 3, 4 }, 2)) -- 2-d: gray; values clamped to [0, 1]
    H.assert_tensor(image.load(path), cnn.ones(1, 3, 4))
    os.remove(path)
  end)

  it("rejects shapes it cannot write and unwritable paths, leaving no partial file", function()
    assert.error_matches(function() image.save(tmp(), cnn.zeros(5, 4, 4)) end,
      "image.save: expected a C x H x W image with 1 to 4 channels, got shape %(5, 4, 4%)")
    assert.error_matches(function() image.save("/nonexistent/a.png", cnn.zeros(1, 2, 2)) end,
      "image.save: cannot write /nonexistent/a.png")
  end)
end)

describe("image.resize", function()
  local fx = R.fixture("image")
  local x = R.tensor(fx.input)
  for _, name in ipairs({ "up", "down", "same", "mixed", "odd" }) do
    it("bilinear and nearest, " .. name .. ", as PyTorch's interpolate", function()
      local b, n = fx["bilinear_" .. name], fx["nearest_" .. name]
      R.assert_close(image.resize(x, b.size[1], b.size[2]), b.output, "bilinear", 1e-5, 1e-6)
      R.assert_close(image.resize(x, n.size[1], n.size[2], "nearest"), n.output, "nearest", 0, 0)
      R.assert_close(image.resize(x:select(1, 2), b.size[1], b.size[2]), R.tensor(b.output):select(1, 2), "single")
    end)
  end

  it("rejects bad sizes and modes", function()
    assert.error_matches(function() image.resize(cnn.zeros(1, 4, 4), 0, 2) end, "image.resize: size 0x2 out of range")
    assert.error_matches(function() image.resize(cnn.zeros(4, 4), 2, 2) end, "image.resize: expected a C x H x W image")
    assert.error_matches(function() image.resize(cnn.zeros(1, 4, 4), 2, 2, "cubic") end, "mode must be")
  end)
end)

describe("image.grid", function()
  it("tiles a batch with padding, nrow images per row", function()
    local batch = cnn.ones(5, 1, 3, 4)
    local g = image.grid(batch, { nrow = 2, padding = 1 })
    assert.are.same({ 1, 3 * (3 + 1) + 1, 2 * (4 + 1) + 1 }, g:shape())
    assert.are.equal(5 * 12, g:sum())
    assert.are.equal(1, g:get(1, 2, 2))
    assert.are.equal(0, g:get(1, 1, 1))
  end)

  it("keeps RGB tiles, and shows each channel of other filters as a gray tile, normalised on request", function()
    assert.are.same({ 3, 6, 6 }, image.grid(cnn.zeros(1, 3, 2, 2)):shape())
    local filters = cnn.arange(2 * 4 * 2 * 2):view(2, 4, 2, 2)
    local g = image.grid(filters, { nrow = 8, padding = 0, normalize = true })
    assert.are.same({ 1, 2, 16 }, g:shape())
    assert.are.equal(0, g:min())
    assert.are.equal(1, g:max())
  end)
end)

describe("padding, unfold, fold and roll against PyTorch", function()
  local fx = R.fixture("image")
  local x = R.tensor(fx.input)

  for _, mode in ipairs({ "constant", "reflect", "replicate", "circular" }) do
    it("cnn.pad, mode " .. mode, function()
      local c = fx["pad_" .. mode]
      local ours = mode == "constant" and "zeros" or mode
      R.assert_close(cnn.pad(x, c.pads, ours), c.output, "output", 0, 0)
      R.assert_close(cnn.pad_backward(x, R.tensor(c.grad_output), c.pads, ours), c.grad_input, "grad_input")
    end)
  end

  it("cnn.unfold and cnn.fold", function()
    local opts = { dilation = { 1, 2 }, padding = { 1, 0 }, stride = { 2, 1 } }
    local cols = cnn.unfold(x, { 2, 3 }, opts)
    R.assert_close(cols, fx.unfold.output, "unfold", 0, 0)
    R.assert_close(cnn.fold(cols, { 5, 7 }, { 2, 3 }, opts), fx.unfold.fold, "fold")
  end)

  it("cnn.roll and t:roll", function()
    R.assert_close(x:roll(2, 3), fx.roll.dim2, "dim 3 (PyTorch's 2)", 0, 0)
    R.assert_close(cnn.roll(x, -3, 4), fx.roll.dim4_neg, "negative shift", 0, 0)
    R.assert_close(x:roll(5), fx.roll.flat, "flattened", 0, 0)
    R.assert_close(x:roll({ 1, -1 }, { 2, 3 }), fx.roll.two, "two dimensions", 0, 0)
    assert.error_matches(function() x:roll(1.5, 1) end, "roll: shift must be an integer")
  end)

  it("reject bad pads, modes and geometries", function()
    assert.error_matches(function() cnn.pad(x, { 1, 2 }) end, "pad: pads must be a number or {left, right, top, bottom}")
    assert.error_matches(function() cnn.pad(x, 1, "mirror") end, "invalid option 'mirror'")
    assert.error_matches(function() cnn.pad(x, 6, "circular") end, "circular padding must be at most the image size")
    assert.error_matches(function() cnn.unfold(x, 9) end, "unfold: kernel 9x9 is larger than the padded input 5x7")
    assert.error_matches(function() cnn.fold(cnn.zeros(1, 5, 4), { 3, 3 }, 2) end, "fold: 5 rows are not divisible")
  end)
end)
