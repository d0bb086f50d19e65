"""What a release is made of: the manifest, the dataset card, licences, lineage, publishing, diffs, loading.

manifest.py  reading and checking data/processed/manifest.json (and assembling it)
card.py      the dataset card (README.md) from a manifest
licenses.py  the licence of a mix of sources
lineage.py   from a metric back to the sources (`jinstruct lineage`)
publish.py   the Hub layout and upload (`jinstruct publish`)
diff.py      two dataset versions compared (`jinstruct diff`)
loading.py   `jinstruct.load_dataset`
"""
