"""The benchmark's tables: results per corpus and sub-group, and where the errors come from."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict

from benchmarks.corpora.scoring import CATEGORIES, Outcome, Row, gap_to_clean, summarize


def groups(outcomes: Sequence[Outcome]) -> list[tuple[str, list[Outcome]]]:
    """The sub-groups of one corpus's outcomes: one per tag value, tag keys and values each in
    order of first appearance."""
    found: dict[str, dict[str, list[Outcome]]] = {}
    for outcome in outcomes:
        for key, value in outcome.item.tags:
            found.setdefault(key, {}).setdefault(value, []).append(outcome)
    return [
        (f"{key}: {value}", members)
        for key, values in found.items()
        for value, members in values.items()
    ]


def corpus_rows(name: str, outcomes: Sequence[Outcome]) -> list[Row]:
    """The corpus's row, then one per sub-group (with the gap to clean for conditions)."""
    rows = [summarize(name, None, outcomes)]
    for label, members in groups(outcomes):
        row = summarize(name, label, members)
        if label.startswith("condition: ") and label != "condition: clean":
            row.gap_to_clean = gap_to_clean(outcomes, label.removeprefix("condition: "))
        rows.append(row)
    return rows


def _label(row: dict[str, object]) -> str:
    return str(row["corpus"]) if row["group"] is None else f"  {row['group']}"


def _percent(value: float | None, digits: int = 2) -> str:
    return "-" if value is None else f"{100 * value:.{digits}f}%"


def results_table(rows: Sequence[Row]) -> str:
    """The main table, markdown."""
    lines = [
        "| corpus | items | digits | per-digit accuracy | exact | accepted & correct "
        "| false digits / frame | vs clean (points) | ms / item |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        false = "-" if row.false_per_frame is None else f"{row.false_per_frame:.3f}"
        gap = "-" if row.gap_to_clean is None else f"{row.gap_to_clean:+.2f}"
        lines.append(
            f"| {row.label} | {row.items} | {row.digits} | {_percent(row.per_digit)} "
            f"| {_percent(row.exact, 1)} | {_percent(row.accepted_correct)} | {false} | {gap} "
            f"| {row.ms:.2f} |"
        )
    return "\n".join(lines)


def frame_errors(name: str, outcomes: Sequence[Outcome]) -> list[dict[str, object]]:
    """Where the truth digits of frames went (``scoring.breakdown``), overall and per group."""
    rows = []
    for group, members in [(None, list(outcomes)), *groups(outcomes)]:
        counts: Counter[str] = Counter()
        for outcome in members:
            counts.update(outcome.categories)
        extra = sum(o.extra for o in members)
        rows.append(
            {
                "corpus": name,
                "group": group,
                "digits": sum(counts.values()),
                **{category: counts[category] for category in CATEGORIES},
                "extra": extra,
                "frames": len(members),
            }
        )
    return rows


def frame_errors_table(rows: Sequence[dict[str, object]]) -> str:
    """The frames' error breakdown, markdown."""
    lines = [
        "| frames of | truth digits | right | misread | rejected | missed | split | merged "
        "| extra accepted |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = " | ".join(str(row[key]) for key in ("digits", *CATEGORIES, "extra"))
        lines.append(f"| {_label(row)} | {cells} |")
    return "\n".join(lines)


def single_errors(
    name: str, outcomes: Sequence[Outcome], group: str | None = None
) -> dict[str, object]:
    """How single-digit photos failed: no digit found, wrong best guess, right but rejected."""
    return {
        "corpus": name,
        "group": group,
        "items": len(outcomes),
        "no digit found": sum(not o.found for o in outcomes),
        "wrong top-1": sum(o.found and not o.top1 for o in outcomes),
        "right but rejected": sum(bool(o.top1) and not o.accepted_correct for o in outcomes),
    }


def single_errors_table(rows: Sequence[dict[str, object]]) -> str:
    """The single-digit error breakdown, markdown."""
    keys = ("items", "no digit found", "wrong top-1", "right but rejected")
    lines = ["| photos of | " + " | ".join(keys) + " |", "|---|" + "---:|" * len(keys)]
    for row in rows:
        lines.append(f"| {_label(row)} | " + " | ".join(str(row[k]) for k in keys) + " |")
    return "\n".join(lines)


def false_digits(outcomes: Sequence[Outcome]) -> dict[str, dict[str, int]]:
    """Digits read on digit-free frames, counted per kind and digit."""
    counts: dict[str, Counter[str]] = {}
    for outcome in outcomes:
        kind = dict(outcome.item.tags).get("kind", "?")
        counts.setdefault(kind, Counter()).update(outcome.read)
    return {kind: dict(sorted(c.items())) for kind, c in counts.items()}


def row_dicts(rows: Sequence[Row]) -> list[dict[str, object]]:
    """Rows as JSON-ready dicts."""
    return [asdict(row) for row in rows]
