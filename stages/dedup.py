"""DVC stage dedup: normalized records → deduped records, clusters, index.

The paths come from dvc.yaml's cmd; the transform is jinstruct.pipeline.dedup.transform.
"""

from jinstruct.pipeline import main
from jinstruct.pipeline.dedup import ARTIFACTS, STAGE, on_ray, transform

if __name__ == "__main__":
    main(STAGE, transform, ARTIFACTS, on_ray)
