"""DVC stage `filter`: language ID, quality filters and decontamination over the deduped records.

The paths come from dvc.yaml's cmd; the transform is jinstruct.pipeline.filter.transform.
"""

from jinstruct.pipeline import main
from jinstruct.pipeline.filter import STAGE, on_ray, transform

if __name__ == "__main__":
    main(STAGE, transform, on_ray=on_ray)
