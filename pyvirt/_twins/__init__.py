"""Pure-Python twins of the C core's hot paths, one module per hot path.

Each twin behaves exactly like its C function in csrc/ (same results, same refusal
reasons) so pyvirt installs and works without a compiler.  `abc` holds what both
implementations share: the Protocols, result types, limits and the error function.
Pick an implementation through pyvirt._core, not by importing these directly.
"""
