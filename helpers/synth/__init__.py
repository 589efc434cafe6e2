"""Deterministic stand-in image generators (docs/architecture.md, "Data and weights").

One module per family of images; every generator takes a seed and carries a real, learnable
class signal, so a quick run learns above chance. The motor-core generator (``motor``) is a
first-class dataset in both modes, with pixel masks of its defects.
"""
