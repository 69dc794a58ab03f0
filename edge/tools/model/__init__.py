"""Model build tools (workstation only): INT8 quantisation, input resize, verification.

``build`` quantises an FP32 model to INT8, ``resize`` gives it another input size; both check
the result against the source model (``agreement``) on frames chosen by ``calibration`` and
install it only if it agrees. ``quantize`` is the only module importing ``onnx`` and
``onnxruntime.quantization`` (the ``build`` extra). Nothing on the device imports this package:
the Pi only loads the built files through ``edge.detect.onnx``.
"""
