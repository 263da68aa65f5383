"""One result row, and the ways rows are shown: a text table as they come, JSON, Markdown.

Ratios are peer time / ember time: above 1 ember is faster, below 1 it is behind.
"% of peak" is against the nominal FP32 FMA peak for GFLOP/s rows and against the measured
STREAM-triad bandwidth for GB/s rows, at the row's thread count.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

COLUMNS = ("op", "shape", "threads", "ember ms", "GFLOP/s or GB/s", "% of peak", "× numpy",
           "× PyTorch", "note")  # fmt: skip
WIDTHS = (34, 24, 7, 9, 15, 9, 7, 9, 0)


@dataclass
class Row:
    section: str
    op: str
    shape: str
    threads: int | str
    ember_ms: float | None
    numpy_ms: float | None = None
    torch_ms: float | None = None
    rate: float | None = None  # in `unit`, from ember's time
    unit: str = ""
    peak_pct: float | None = None
    note: str = ""
    extra: dict = field(default_factory=dict)

    def ratio(self, peer_ms: float | None) -> float | None:
        if peer_ms is None or not self.ember_ms:
            return None
        return peer_ms / self.ember_ms

    def cells(self) -> list[str]:
        rate = f"{self.rate:.3g} {self.unit}" if self.rate is not None else "-"
        return [
            self.op,
            self.shape,
            str(self.threads),
            format_ms(self.ember_ms),
            rate,
            f"{self.peak_pct:.0f}%" if self.peak_pct is not None else "-",
            format_ratio(self.ratio(self.numpy_ms)),
            format_ratio(self.ratio(self.torch_ms)),
            self.note,
        ]

    def as_dict(self) -> dict:
        d = asdict(self)
        d["x_numpy"] = self.ratio(self.numpy_ms)
        d["x_torch"] = self.ratio(self.torch_ms)
        return d


def format_ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    return f"{ms:.3g}"


def format_ratio(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"


def text_line(cells) -> str:
    return " | ".join(c.ljust(w) if w else c for c, w in zip(cells, WIDTHS)).rstrip()


def text_header() -> str:
    return text_line(COLUMNS)


def markdown(rows: list[Row]) -> str:
    """The rows as Markdown tables, one per section."""
    out, section = [], None
    for row in rows:
        if row.section != section:
            section = row.section
            out += ["", f"**{section}**", "", "| " + " | ".join(COLUMNS) + " |",
                    "|" + "---|" * len(COLUMNS)]  # fmt: skip
        out.append("| " + " | ".join(c.replace("|", "/") for c in row.cells()) + " |")
    return "\n".join(out).strip() + "\n"


def write_json(path: str, meta: dict, rows: list[Row]) -> None:
    with open(path, "w") as f:
        json.dump({"meta": meta, "rows": [r.as_dict() for r in rows]}, f, indent=1)
