"""What a release is made of: the manifest, the dataset card, licences, lineage, publishing, diffs, loading.

assemble.py  writing data/processed: split files, manifest.json, the card (the split stage)
manifest.py  reading and checking data/processed/manifest.json
project.py   a file's project root and the commit its code is at
card.py      the dataset card (README.md) from a manifest
licenses.py  the licence of a mix of sources
lineage.py   from a metric back to the sources (`jinstruct lineage`)
publish.py   the Hub layout and upload (`jinstruct publish`)
diff.py      two dataset versions compared (`jinstruct diff`)
loading.py   `jinstruct.load_dataset`
"""
