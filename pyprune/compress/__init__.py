"""Deep Compression's encodings, torch-free: k-means weight sharing, sparse positions as
relative gaps, canonical Huffman coding. pyprune.pack writes them into one file per model."""

from pyprune.compress.huffman import HuffmanCode, code_lengths
from pyprune.compress.sharing import SharedTensor, kmeans_1d, share_weights
from pyprune.compress.sparse import SparseGaps, encode_gaps

__all__ = ["HuffmanCode", "SharedTensor", "SparseGaps", "code_lengths", "encode_gaps", "kmeans_1d", "share_weights"]
