-- LeNet-5 (LeCun et al., 1998) defined in a dozen lines and trained on a fixed
-- batch of random images with random labels: the loss falls as the network
-- learns the batch by heart. Run: ./cnnlua examples/lenet.lua [steps]
local cnn = cnn or require "cnn"
local nn, optim = cnn.nn, cnn.optim

cnn.seed(1)
local model = nn.Sequential {
  nn.Conv2d(1, 6, 5, { padding = 2 }), nn.ReLU(), nn.MaxPool2d(2),   -- 6 x 14 x 14
  nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),                   -- 16 x 5 x 5
  nn.Flatten(),
  nn.Linear(16 * 5 * 5, 120), nn.ReLU(),
  nn.Linear(120, 84), nn.ReLU(),
  nn.Linear(84, 10),
}
print(model)

local criterion = nn.CrossEntropyLoss()
local opt = optim.SGD(model, { lr = 0.05, momentum = 0.9 })
local images, labels = cnn.randn(64, 1, 28, 28), {}
for i = 1, 64 do labels[i] = i % 10 + 1 end

local steps = tonumber(arg and arg[1]) or 40
for step = 1, steps do
  opt:zero_grad()
  local loss = criterion:forward(model:forward(images), labels)
  model:backward(images, criterion:backward(model.output, labels))
  opt:step()
  if step == 1 or step % 10 == 0 then print(string.format("step %3d  loss %.4f", step, loss)) end
end
