"""jinstruct: a data-centric build system for Japanese instruction-tuning datasets."""

__version__ = "0.1.0"
