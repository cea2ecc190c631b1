-- Line charts as SVG, for the training curves: panels side by side, each with
-- its own axes, one polyline per series, and a legend.
local svgplot = {}

local COLORS = { "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f" }

local function nice_ticks(lo, hi, n)
  if hi <= lo then hi = lo + 1 end
  local raw = (hi - lo) / n
  local mag = 10 ^ math.floor(math.log(raw, 10))
  local step = mag
  for _, m in ipairs({ 1, 2, 5, 10 }) do
    if m * mag >= raw then
      step = m * mag
      break
    end
  end
  local ticks = {}
  local first, last = math.floor(lo / step), math.ceil(hi / step)
  for i = first, last do ticks[#ticks + 1] = i * step end
  return ticks
end

local function fmt(v)
  if math.abs(v) >= 100 or v == math.floor(v) then return string.format("%d", math.floor(v + 0.5)) end
  return (string.format("%.3f", v):gsub("0+$", ""))
end

-- panels: array of {title = ..., legend = "top", "bottom" or "right", series = {{name = ..., x = {...}, y = {...}}, ...}}
-- A "right" legend sits beside the plot, for many or long names.
function svgplot.write(path, panels, opts)
  opts = opts or {}
  local ph, margin = 300, { left = 60, right = 20, top = 40, bottom = 50 }
  local widths, width = {}, 0
  for k, panel in ipairs(panels) do
    local extra = 0
    if panel.legend == "right" then
      for _, s in ipairs(panel.series) do extra = math.max(extra, 40 + 7 * #s.name) end
    end
    widths[k] = 420 + extra
    width = width + widths[k]
  end
  local height = ph
  local out = { string.format('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
    .. 'font-family="sans-serif" font-size="12">', width, height),
    string.format('<rect width="%d" height="%d" fill="white"/>', width, height) }
  local ox = 0
  for k, panel in ipairs(panels) do
    local pw = widths[k]
    local legend_w = pw - 420
    local x0, x1, y0, y1 = math.huge, -math.huge, math.huge, -math.huge
    for _, s in ipairs(panel.series) do
      for i = 1, #s.x do
        x0, x1 = math.min(x0, s.x[i]), math.max(x1, s.x[i])
        y0, y1 = math.min(y0, s.y[i]), math.max(y1, s.y[i])
      end
    end
    if x0 == math.huge then x0, x1, y0, y1 = 0, 1, 0, 1 end
    if x1 == x0 then x1 = x0 + 1 end
    local yt = nice_ticks(y0, y1, 5)
    y0, y1 = yt[1], yt[#yt]
    local xt = nice_ticks(x0, x1, math.min(10, math.max(1, x1 - x0)))
    local left, right, top, bottom = ox + margin.left, ox + pw - margin.right - legend_w, margin.top, ph - margin.bottom
    local function sx(v) return left + (v - x0) / (x1 - x0) * (right - left) end
    local function sy(v) return bottom - (v - y0) / (y1 - y0) * (bottom - top) end
    out[#out + 1] = string.format('<text x="%g" y="20" text-anchor="middle" font-size="14">%s</text>',
      (left + right) / 2, panel.title)
    for _, v in ipairs(yt) do
      out[#out + 1] = string.format('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="#ddd"/>', left, sy(v), right, sy(v))
      out[#out + 1] = string.format('<text x="%g" y="%g" text-anchor="end">%s</text>', left - 6, sy(v) + 4, fmt(v))
    end
    for _, v in ipairs(xt) do
      if v >= x0 and v <= x1 then
        out[#out + 1] = string.format('<text x="%g" y="%g" text-anchor="middle">%s</text>', sx(v), bottom + 16, fmt(v))
      end
    end
    out[#out + 1] = string.format('<rect x="%g" y="%g" width="%g" height="%g" fill="none" stroke="#333"/>',
      left, top, right - left, bottom - top)
    out[#out + 1] = string.format('<text x="%g" y="%g" text-anchor="middle">%s</text>', (left + right) / 2, ph - 12,
      panel.xlabel or "epoch")
    for i, s in ipairs(panel.series) do
      local pts = {}
      for j = 1, #s.x do pts[#pts + 1] = string.format("%.1f,%.1f", sx(s.x[j]), sy(s.y[j])) end
      local color = COLORS[(i - 1) % #COLORS + 1]
      out[#out + 1] = string.format('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>', color,
        table.concat(pts, " "))
      for j = 1, #s.x do
        out[#out + 1] = string.format('<circle cx="%.1f" cy="%.1f" r="2.5" fill="%s"/>', sx(s.x[j]), sy(s.y[j]), color)
      end
      local ly = panel.legend == "bottom" and bottom - 14 - 16 * (#panel.series - i) or top + 14 + 16 * (i - 1)
      local lx = panel.legend == "right" and right + 15 or right - 110
      out[#out + 1] = string.format('<line x1="%g" y1="%g" x2="%g" y2="%g" stroke="%s" stroke-width="2"/>',
        lx, ly, lx + 20, ly, color)
      out[#out + 1] = string.format('<text x="%g" y="%g">%s</text>', lx + 25, ly + 4, s.name)
    end
    ox = ox + pw
  end
  out[#out + 1] = "</svg>\n"
  local tmp = path .. ".tmp"
  local f = assert(io.open(tmp, "w"))
  f:write(table.concat(out, "\n"))
  f:close()
  assert(os.rename(tmp, path))
end

return svgplot
