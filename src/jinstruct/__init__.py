"""jinstruct: a data-centric build system for Japanese instruction-tuning datasets."""

__version__ = "0.1.0"


def __getattr__(name: str):
    # Loaded on first use so that `import jinstruct` does not import datasets.
    if name == "load_dataset":
        from jinstruct.release.loading import load_dataset

        return load_dataset
    raise AttributeError(f"module 'jinstruct' has no attribute {name!r}")
