-- A tour of the tensor API: every function once, with what it prints.
-- Run: ./cnnlua examples/tensor_tour.lua
local cnn = cnn or require "cnn"

cnn.seed(1)
print("version", cnn.version, "threads", cnn.get_num_threads())

-- creation
local a = cnn.tensor({ { 1, 2, 3 }, { 4, 5, 6 } })
print(a)
print(cnn.zeros(2, 2), cnn.ones({ 2 }), cnn.full({ 1, 3 }, 7), cnn.empty(0, 4))
print(cnn.arange(5), cnn.arange(1, 2, 0.25))
print(cnn.rand(2, 2), cnn.randn(3))
print("is_tensor", cnn.is_tensor(a), cnn.is_tensor(42))

-- shape and elements
print("shape", table.concat(a:shape(), "x"), a:size(2), a:dim(), a:numel(), #a, a:is_contiguous())
a:set(1, 1, 10)
print("get", a:get(1, 1), cnn.tensor(3):item(), #a:totable())

-- views
local v = cnn.arange(24):view(2, 3, 4)
print(v:view(-1, 4):shape()[1], v:reshape(4, 6):shape()[2])
print(v:transpose(1, 3):is_contiguous(), v:permute(3, 1, 2):size(1))
print(v:narrow(3, 2, 2), v:select(1, 2))
print(v:transpose(1, 2):contiguous():is_contiguous(), v:clone():equal(v))

-- fill and copy
local f = cnn.empty(2, 3)
f:fill_(1):zero_():copy_(cnn.tensor({ 1, 2, 3 }))
print(f)

-- arithmetic and maths
local b = cnn.ones(2, 3)
print(a + b, a - 1, 2 * a, a / b, -a)
print(a:add(b), a:sub(b), a:mul(b), a:div(b), a:neg())
b:add_(a, 0.5):sub_(1):mul_(2):div_(cnn.tensor({ 1, 2, 4 }))
print(b)
print(a:exp(), a:log(), a:sqrt(), (-a):abs(), a:pow(2), a:clamp(2, 5))

-- reductions
print(a:sum(), a:mean(), a:max(), a:min(), a:argmax(), a:argmin())
print(a:sum(1), a:mean(2, true))
local values, indices = a:max(2)
print(values, indices, a:min(1), a:argmax(2), a:argmin(1))

-- comparison and matmul
print(a:equal(a:clone()), a:allclose(a + 1e-7))
print(cnn.matmul(a, a:transpose(1, 2)), cnn.matmul(cnn.randn(4, 2, 3), cnn.randn(3, 5)):shape()[1])
print(a:matmul(cnn.ones(3)))

-- lifetime
do
  local scratch <close> = cnn.zeros(256, 256)
  scratch:add_(1)
end
local t = cnn.zeros(3)
t:free()
print(pcall(t.sum, t))
local t0 = cnn.clock()
cnn.set_num_threads(1)
print("elapsed >= 0", cnn.clock() - t0 >= 0)
