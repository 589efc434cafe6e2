"""``%%tensorflow_only``: a cell that needs TensorFlow (docs/architecture.md, "Backends").

A few lessons are about TensorFlow itself (``tf.data`` and its throughput). Such a cell starts
with ``%%tensorflow_only <what it needs TensorFlow for>``: where Keras runs on TensorFlow the
cell runs as written; elsewhere (Colab's TPU runtime, JAX) it prints one line saying why it
was skipped. ``import helpers`` registers the magic when it runs inside IPython.
"""

from __future__ import annotations


def tensorflow_only(line: str, cell: str) -> None:
    """Run ``cell`` on the TensorFlow backend; otherwise say why it is skipped."""
    import keras
    from IPython import get_ipython

    backend = keras.backend.backend()
    if backend != "tensorflow":
        need = f" ({line.strip()})" if line.strip() else ""
        print(f"Skipped: this cell needs TensorFlow{need}; Keras runs on {backend} here.")
        return
    get_ipython().run_cell(cell).raise_error()


def register() -> None:
    """Register ``%%tensorflow_only`` in the running IPython kernel, if there is one."""
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is not None:
        shell.register_magic_function(tensorflow_only, magic_kind="cell")
