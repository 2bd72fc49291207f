"""
Every microkernel, for tests and benchmarks.
"""
from __future__ import annotations
__all__: list[str] = ['describe_operator', 'dwconv2d_ukernels', 'gemm_ukernels', 'huffdec_ukernels', 'operators', 'run_operator', 'spmm_ukernels', 'vunary_ukernels']
def describe_operator(op: str, attrs: dict, inputs: list, constants: dict = {}) -> tuple:
    """
    (description, multiply-accumulates) of one operator built as run_operator builds it.
    """
def dwconv2d_ukernels() -> list:
    ...
def gemm_ukernels() -> list:
    ...
def huffdec_ukernels() -> list:
    ...
def operators() -> list[str]:
    """
    The operator set: every operator the graph engine runs.
    """
def run_operator(op: str, attrs: dict, inputs: list, constants: dict = {}) -> list:
    """
    Runs one operator of the operator set: inputs are float32 arrays (None where `constants` gives the input at that position as a constant); returns its outputs.
    """
def spmm_ukernels() -> list:
    ...
def vunary_ukernels() -> list:
    ...
