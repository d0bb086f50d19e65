"""The HTML report of a build: what each stage removed and why, what survived,
how training went and whether the tuned model beat the base.

``collect`` reads the build's files into one plain ``Build`` value, ``measure``
computes distributions over record files, ``charts`` draws them (Japanese font
included), ``render`` writes one self-contained HTML file.
"""

from jinstruct.report.build import write_report

__all__ = ["write_report"]
