"""The driver's doorbell: what one look costs and whether it rings before a commit is readable.

Two bells on the same SQLite database in WAL mode, in one run: the file bell the driver used
(stat of the database and its `-wal` file, size and mtime) and `app.driver.StoreBell` (SQLite's
`PRAGMA data_version` on a connection of its own). Figures: microseconds per look, the ratio,
and, over `--gaps` transactions of another connection whose pages spill into the WAL before
they commit, how often each bell rang while nothing new was readable (a wasted reconcile) and
how many commits it then missed (no ring once the commit was visible, after the driver rearmed
it). data_version also changes, rarely, when a writer restarts the WAL after a checkpoint.

    python benchmarks/store_bell.py [--looks 20000] [--gaps 50]
"""

from __future__ import annotations

import argparse
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from local_bench import print_json

from serinus.app.driver import StoreBell


class FileBell:
    """The earlier bell: a change of the database's or the WAL's size or mtime."""

    def __init__(self, database: Path) -> None:
        self.files = (database, database.with_name(database.name + "-wal"))
        self.seen = self.signature()

    def signature(self) -> tuple[tuple[int, int], ...]:
        return tuple((s.st_mtime_ns, s.st_size) for s in (f.stat() for f in self.files))

    def rearm(self) -> None:
        self.seen = self.signature()

    def rang(self) -> bool:
        return self.signature() != self.seen


def per_look_us(look: Callable[[], bool], looks: int) -> float:
    started = time.perf_counter()
    for _ in range(looks):
        look()
    return (time.perf_counter() - started) / looks * 1e6


def gaps(writer: sqlite3.Connection, bells: dict[str, Any], count: int) -> dict[str, Any]:
    """Per bell: rings during the gap (written, not committed), and commits it then missed. A
    bell that rang early is rearmed, as the driver does after a reconcile that found nothing."""
    early = dict.fromkeys(bells, 0)
    missed = dict.fromkeys(bells, 0)
    for _ in range(count):
        for bell in bells.values():
            bell.rearm()
        writer.execute("BEGIN IMMEDIATE")
        writer.executemany("INSERT INTO filler VALUES (?)", [(bytes(400),)] * 200)
        for name, bell in bells.items():
            if bell.rang():
                early[name] += 1
                bell.rearm()
        writer.execute("COMMIT")
        for name, bell in bells.items():
            missed[name] += not bell.rang()
    return {"ringsBeforeVisible": early, "commitsMissed": missed}


def run(looks: int, count: int) -> dict[str, Any]:
    folder = Path(tempfile.mkdtemp(prefix="bell"))
    database = folder / "serinus.db"
    writer = sqlite3.connect(database, isolation_level=None)
    bell = None
    try:
        writer.execute("PRAGMA journal_mode = WAL")
        writer.execute("CREATE TABLE filler (x BLOB)")
        writer.execute("PRAGMA cache_size = 1")  # a transaction's pages spill before its commit
        files, bell = FileBell(database), StoreBell(database)
        file_us, version_us = per_look_us(files.rang, looks), per_look_us(bell.rang, looks)
        return {
            "looks": looks,
            "gaps": count,
            "fileBellMicroseconds": round(file_us, 2),
            "dataVersionMicroseconds": round(version_us, 2),
            "dataVersionOverFileBell": round(version_us / file_us, 2),
            **gaps(writer, {"fileBell": files, "dataVersion": bell}, count),
        }
    finally:
        if bell is not None:
            bell.close()
        writer.close()
        shutil.rmtree(folder, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--looks", type=int, default=20000, help="looks timed per bell")
    parser.add_argument("--gaps", type=int, default=50, help="spilled transactions")
    args = parser.parse_args()
    if args.looks < 1 or args.gaps < 1:
        parser.error("--looks and --gaps must be >= 1")
    figures = run(args.looks, args.gaps)
    print(f"{'':<14}{'us/look':>9}{'rang before visible':>21}{'commits missed':>16}")
    for name, key in (("file bell", "fileBell"), ("data_version", "dataVersion")):
        cost = figures[f"{key}Microseconds"]
        early, missed = figures["ringsBeforeVisible"][key], figures["commitsMissed"][key]
        print(f"{name:<14}{cost:>9.2f}{early:>15}/{args.gaps:<5}{missed:>10}/{args.gaps:<5}")
    print(f"data_version / file bell (cost of a look): {figures['dataVersionOverFileBell']:g}")
    print_json(figures)


if __name__ == "__main__":
    main()
