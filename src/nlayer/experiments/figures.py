"""matplotlib for the experiments' figures, imported only when a figure is drawn."""

from nlayer.saving.atomic import save_figure

DPI = 100


def pyplot():
    try:
        import matplotlib
    except ImportError:
        raise ImportError("nlayer experiments draw figures with matplotlib; install it with "
                          "pip install \"nlayer[cli]\"") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def save(fig, path):
    plt = pyplot()
    fig.tight_layout()
    save_figure(fig, path, dpi=DPI)
    plt.close(fig)
    return path.name
