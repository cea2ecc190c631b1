-- A small command-line parser for the example scripts: --name value,
-- --name=value, and flags (--name). Unknown options and bad values raise an
-- error whose message the script prints with its usage.
local options = {}

-- spec: array of {name, default, help, kind} with kind "string", "number",
-- "integer" or "flag". Returns a table of values keyed by name (with '-' as
-- '_'), and the set of the names given on the command line.
function options.parse(args, spec)
  local by_name, values, given = {}, {}, {}
  for _, o in ipairs(spec) do
    by_name[o[1]] = o
    values[o[1]:gsub("-", "_")] = o[2]
  end
  local i = 1
  while i <= #args do
    local a = args[i]
    local name, value = a:match("^%-%-([%w-]+)=(.*)$")
    name = name or a:match("^%-%-([%w-]+)$")
    if not name then error("unexpected argument '" .. a .. "'", 0) end
    local o = by_name[name]
    if not o then error("unknown option '--" .. name .. "'", 0) end
    if o[4] == "flag" then
      if value then error("option '--" .. name .. "' takes no value", 0) end
      value = true
    elseif not value then
      i = i + 1
      value = args[i]
      if value == nil then error("option '--" .. name .. "' needs a value", 0) end
    end
    if o[4] == "number" or o[4] == "integer" then
      local n = tonumber(value)
      if not n or (o[4] == "integer" and math.type(n) ~= "integer") then
        error(string.format("option '--%s' needs %s, got '%s'", name, o[4] == "integer" and "an integer" or "a number", value), 0)
      end
      value = n
    end
    values[name:gsub("-", "_")] = value
    given[name:gsub("-", "_")] = true
    i = i + 1
  end
  return values, given
end

function options.usage(program, summary, spec)
  local lines = { "usage: " .. program .. " [options]", summary, "", "options:" }
  for _, o in ipairs(spec) do
    local left = "--" .. o[1] .. (o[4] == "flag" and "" or " " .. string.upper(o[4] == "string" and "value" or o[4]))
    local default = o[2] ~= nil and o[4] ~= "flag" and " (default: " .. tostring(o[2]) .. ")" or ""
    lines[#lines + 1] = string.format("  %-22s %s%s", left, o[3], default)
  end
  return table.concat(lines, "\n")
end

-- The whole command line of a script: parses args; on --help prints the usage
-- and exits 0, on a bad option prints the error and the usage and exits 1.
-- The spec must have a "help" flag. Returns the values and the given set.
function options.cli(args, program, summary, spec)
  local ok, values, given = pcall(options.parse, args or {}, spec)
  if not ok or values.help then
    if not ok then io.stderr:write(program, ": ", values, "\n") end
    local out = ok and io.stdout or io.stderr
    out:write(options.usage("cnnlua " .. program, summary, spec), "\n")
    os.exit(ok and 0 or 1, true)
  end
  return values, given
end

-- Creates a directory (and its parents) if it does not exist.
function options.ensure_dir(path)
  os.execute("mkdir -p '" .. path:gsub("'", "'\\''") .. "'")
end

return options
