"""Will a .tflite file run whole on a phone's TFLite GPU delegate?

LiteRT's model analyzer lists the ops and flags the ones its GPU check refuses; its check is
permissive (newer delegates run many more ops than the GPUs of older phones), so every op must
also be on the conservative list below, and every tensor shape must be static.
"""
import re

from ai_edge_litert import _pywrap_analyzer_wrapper as analyzer

# The ops the GPU delegate has run since its first public releases (OpenGL and OpenCL back ends).
GPU_OPS = frozenset({
    "ADD", "AVERAGE_POOL_2D", "CONCATENATION", "CONV_2D", "DEPTHWISE_CONV_2D", "DEQUANTIZE", "DIV",
    "FULLY_CONNECTED", "HARD_SWISH", "LOGISTIC", "MAX_POOL_2D", "MAXIMUM", "MEAN", "MINIMUM", "MUL", "PAD",
    "PRELU", "RELU", "RELU6", "RESHAPE", "RESIZE_BILINEAR", "RESIZE_NEAREST_NEIGHBOR", "SOFTMAX", "SUB",
    "TANH", "TRANSPOSE_CONV",
})
OP_LINE = re.compile(r"^\s*Op#\d+ (\w+)\(")
DYNAMIC_SHAPE = re.compile(r"shape_signature:\[[^\]]*-1")
ANALYZER_WARNING = "GPU COMPATIBILITY WARNING"


def analysis(content):
    """LiteRT's text report on a flatbuffer, with its GPU-delegate compatibility check."""
    return analyzer.ModelAnalyzer(content, False, True)


def ops(report):
    return [m.group(1) for m in map(OP_LINE.match, report.splitlines()) if m]


def gpu_problems(content):
    """What keeps the model off the GPU delegate, as short phrases; empty when nothing does."""
    report = analysis(content)
    lines = report.splitlines()
    flagged = {OP_LINE.match(before).group(1) for before, line in zip(lines, lines[1:])
               if line.startswith(ANALYZER_WARNING) and OP_LINE.match(before)}
    refused = flagged | {op for op in ops(report) if op not in GPU_OPS}
    problems = [f"op {op} is not run by the GPU delegate" for op in sorted(refused)]
    if DYNAMIC_SHAPE.search(report):
        problems.append("a tensor has a dynamic shape (the GPU delegate needs static shapes)")
    return problems
