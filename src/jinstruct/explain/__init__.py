"""``jinstruct explain``: the whole story of one record, from its source bytes to its split or removal.

Everything is read from the outputs of a finished build (nothing is re-run but
the normalisation rules on one record's raw text): ``build.py`` finds the files
and refuses outputs that are not the ones dvc.lock records, ``lookup.py`` reads
the rows of one id, ``story.py`` assembles the sections, ``verify.py`` re-reads
the raw bytes, ``render.py`` prints the text form. The JSON form is described by
``schema.json`` (docs/explain.md).
"""

from jinstruct.explain.story import explain_record, search_records

__all__ = ["explain_record", "search_records"]
