-- A minimal PNG encoder for making test images of every kind libpng reads
-- (gray, gray+alpha, RGB, RGBA, palette; 1 to 16 bits), independently of the
-- library under test. The image data is stored in uncompressed deflate blocks.
local cnn = require "cnn"

local W = {}

local function chunk(kind, body)
  return string.pack(">I4", #body) .. kind .. body .. string.pack(">I4", cnn.crc32(kind .. body))
end

local function adler32(s)
  local a, b = 1, 0
  for i = 1, #s do
    a = (a + s:byte(i)) % 65521
    b = (b + a) % 65521
  end
  return b << 16 | a
end

-- A zlib stream of stored blocks (at most 65535 bytes each).
local function zlib_stored(s)
  local parts, pos = { "\120\1" }, 1
  repeat
    local block = s:sub(pos, pos + 65534)
    pos = pos + #block
    local final = pos > #s and 1 or 0
    parts[#parts + 1] = string.pack("<B I2 I2", final, #block, (~#block) & 0xffff) .. block
  until pos > #s
  parts[#parts + 1] = string.pack(">I4", adler32(s))
  return table.concat(parts)
end

-- rows: array of rows, each an array of samples (already in 0 .. 2^depth - 1),
-- interleaved by channel. color: 0 gray, 2 RGB, 3 palette, 4 gray+alpha, 6 RGBA.
-- opts.palette: array of {r, g, b}; opts.trns: string of the tRNS chunk body.
function W.encode(width, height, depth, color, rows, opts)
  opts = opts or {}
  local raw = {}
  for y = 1, height do
    local bits, acc, nbits = {}, 0, 0
    for _, v in ipairs(rows[y]) do
      if depth == 16 then
        bits[#bits + 1] = string.pack(">I2", v)
      elseif depth == 8 then
        bits[#bits + 1] = string.char(v)
      else
        acc, nbits = acc << depth | v, nbits + depth
        if nbits == 8 then
          bits[#bits + 1] = string.char(acc)
          acc, nbits = 0, 0
        end
      end
    end
    if nbits > 0 then bits[#bits + 1] = string.char(acc << (8 - nbits)) end
    raw[#raw + 1] = "\0" .. table.concat(bits) -- filter type 0
  end
  local out = { "\137PNG\r\n\26\n", chunk("IHDR", string.pack(">I4 I4 B B B B B", width, height, depth, color, 0, 0, 0)) }
  if opts.palette then
    local p = {}
    for _, c in ipairs(opts.palette) do p[#p + 1] = string.char(c[1], c[2], c[3]) end
    out[#out + 1] = chunk("PLTE", table.concat(p))
  end
  if opts.trns then out[#out + 1] = chunk("tRNS", opts.trns) end
  out[#out + 1] = chunk("IDAT", zlib_stored(table.concat(raw)))
  out[#out + 1] = chunk("IEND", "")
  return table.concat(out)
end

function W.write(path, ...)
  local f = assert(io.open(path, "wb"))
  f:write(W.encode(...))
  f:close()
end

return W
