"""DVC stage `report`: reports/index.html from every stats, metrics and record file of the build."""

from pathlib import Path

from jinstruct.params import load_params
from jinstruct.report import write_report
from jinstruct.stage import stage_main


def main() -> None:
    write_report(Path("."), Path("reports/index.html"), load_params("report"))


if __name__ == "__main__":
    stage_main("report", main)
