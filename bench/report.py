from __future__ import annotations

import json
import statistics


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * (len(ordered) - 1))))
    return ordered[index]


def print_report(name: str, rows: list[tuple[str, str]], figures: dict) -> None:
    width = max(len(label) for label, _ in rows)
    print()
    print(f"benchmark: {name}")
    print("-" * (width + 20))
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    print("-" * (width + 20))
    print(json.dumps({"bench": name, **figures}))
