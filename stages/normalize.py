"""DVC stage normalize: converted records -> normalised records (raw text kept in raw_<field>).

The paths come from dvc.yaml's cmd; the transform is jinstruct.pipeline.normalize.transform.
"""

from jinstruct.pipeline import main
from jinstruct.pipeline.normalize import STAGE, on_ray, transform

if __name__ == "__main__":
    main(STAGE, transform, on_ray=on_ray)
