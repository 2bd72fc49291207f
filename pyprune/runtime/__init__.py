"""Running a packed model with numpy alone, on a board without torch or the model's code:

    net = pyprune.runtime.load("model.pyprune")      # checks everything, compiles the graph
    y = net(x)                                        # float32 arrays in and out (argmax
                                                      # labels in their integer dtype)

The file holds the model's optimised inference graph (pack.save with example inputs);
``keep_compressed=True`` keeps the weights Huffman-coded in memory. Torch-free."""

from pyprune.runtime.net import Net, NodeInfo, NodeTime, load

__all__ = ["Net", "NodeInfo", "NodeTime", "load"]
