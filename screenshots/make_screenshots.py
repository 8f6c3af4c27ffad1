"""Regenerate the cockpit's SVG screenshots from the real app over a deterministic demo database.

    /tmp/venv/bin/python screenshots/make_screenshots.py [--out screenshots]

The demo database is the UI tests' (tests/ui/demo_data.py): fixed seed, frozen clock.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "ui"))

SHOTS = [
    # (file stem, terminal size, keys pressed after the first poll, halted)
    ("main_160x48", (160, 48), [], False),
    ("main_80x24", (80, 24), [], False),
    ("main_80x24_weights", (80, 24), ["w"], False),
    ("reject_modal_160x48", (160, 48), ["r", *"size too big"], False),
    ("halted_160x48", (160, 48), [], True),
    ("help_160x48", (160, 48), ["question_mark"], False),
    ("backtest_160x48", (160, 48), ["b"], False),
    ("data_160x48", (160, 48), ["d"], False),
    ("prompts_160x48", (160, 48), ["p"], False),
]


async def shoot(stem: str, size: tuple[int, int], keys: list[str], halted: bool, out: Path) -> Path:
    from demo_data import NOW, fill_backtest_result, fill_demo, fill_training_candidate

    from cockpit.config import load_config
    from cockpit.db import close_database, migrate, open_database
    from cockpit.domain.clock import ManualClock
    from cockpit.ui.app import create_app

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/demo.db"
        db = open_database(url)
        migrate(db)
        fill_demo(halted=halted)
        fill_backtest_result()
        fill_training_candidate()
        cfg = load_config(None, environ={}, overrides={"database.url": url})
        app = create_app(cfg, db=db, clock=ManualClock(NOW), poll_enabled=False, operator="demo")
        async with app.run_test(size=size) as pilot:
            for _ in range(3):
                await app.workers.wait_for_complete()
                await pilot.pause()
            if keys:
                await pilot.press(*keys)
                for _ in range(3):
                    await app.workers.wait_for_complete()
                    await pilot.pause()
            path = out / f"{stem}.svg"
            path.write_text(app.export_screenshot(title=f"cockpit {stem}"), encoding="utf-8")
        close_database()
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", type=Path, default=REPO / "screenshots")
    ap.add_argument("--only", help="substring of the shots to make")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for stem, size, keys, halted in SHOTS:
        if args.only and args.only not in stem:
            continue
        print(asyncio.run(shoot(stem, size, keys, halted, args.out)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
