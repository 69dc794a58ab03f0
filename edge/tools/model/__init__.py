"""Model tools: INT8 quantisation, input resize, verification (workstation); the choice (device).

``build`` quantises an FP32 model to INT8, ``resize`` gives it another input size; both check
the result against the source model (``agreement``) on frames chosen by ``calibration`` and
install it only if it agrees. ``quantize`` is the only module importing ``onnx`` and
``onnxruntime.quantization`` (the ``build`` extra). The service never imports this package:
the Pi only loads the built files through ``edge.detect.onnx``. ``choose`` and ``choice``
(``model choose``) run once on the device to pick among the installed files; they import no
``onnx``.
"""
