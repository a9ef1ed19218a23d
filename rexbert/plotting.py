"""Matplotlib figures as PNG bytes, shared by the stages' reports (callers import matplotlib)."""

from __future__ import annotations

import io


def png_bytes(fig, dpi: float | str = "figure", tight: bool = True) -> bytes:
    """Lay `fig` out (unless the caller placed things itself, `tight=False`), render it as PNG
    and, for a pyplot figure, close it (pyplot keeps every open figure alive until closed)."""
    if tight:
        fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    if fig.canvas.manager is not None:  # made by pyplot, registered there
        import matplotlib.pyplot as plt

        plt.close(fig)
    return buffer.getvalue()
