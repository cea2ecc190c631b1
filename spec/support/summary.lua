-- busted output handler: busted's usual terminal output, then one closing line
-- "N passed, N failed" (errors count as failures) that CI reads.
return function(options)
  local busted = require 'busted'
  local handler = require 'busted.outputHandlers.utfTerminal'(options)
  local subscribe = handler.subscribe
  handler.subscribe = function(self, opts)
    subscribe(self, opts)
    busted.subscribe({ 'suite', 'end' }, function()
      io.write(string.format('%d passed, %d failed\n', handler.successesCount,
        handler.failuresCount + handler.errorsCount))
      io.flush()
      return nil, true
    end)
  end
  return handler
end
