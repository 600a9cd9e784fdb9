"""Host side: turn one guest's result.json into the check's table cells and failure lines.

    python summarize.py RESULT_JSON

Prints one line of tab-separated cells (Python, numpy, OpenCV, backends, LiteRT vs x86,
NumPy backend vs x86, digit-classify, camera demo), then one line per failure the guest found.
A missing result file gives dashes and a failure.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def compared(result: dict, backend: str) -> str:
    row = result.get("compare", {}).get(backend)
    if row is None:
        return "-"
    steps = "" if row["steps"] is None else f" ({row['steps']:g} steps)"
    return f"{row['agreement']:.2%} / {row['max_diff']:.2g}{steps}"


def main() -> int:
    path = Path(sys.argv[1])
    if not path.is_file():
        print("\t".join(["-"] * 8))
        print("the guest wrote no result (see its log)")
        return 0
    r = json.loads(path.read_text())
    cells = [
        r.get("python", "-"),
        f"{r['numpy']} ({r['numpy_from']})" if "numpy" in r else "-",
        f"{r['opencv']} ({r['opencv_from']})" if r.get("opencv") else "-",
        ", ".join(r.get("backends", [])) or "-",
        compared(r, "litert"),
        compared(r, "numpy"),
        "ok" if r.get("classify_ok") else "FAIL",
        "ok" if r.get("camera_ok") else "FAIL",
    ]
    print("\t".join(cells))
    for failure in r["failures"]:
        print(failure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
