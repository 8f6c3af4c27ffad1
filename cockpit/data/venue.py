"""Which venue a database belongs to, so the data of two markets never mix in one database.

A database holds the market data, orders and fills of one venue: ``sim`` (the built-in simulator's
generated or replayed market), ``okx-demo``, ``okx-live``, or ``import`` (candles and funding
imported from CSV files, e.g. real history for backtests). The venue is recorded in
``engine_state['venue']`` by the first engine start, exchange ingest or CSV import, and every later
one checks it: another venue is refused with a message saying what to do. A database written
before the record existed is judged by its ``ingestion_runs`` sources.
"""

from __future__ import annotations

import json

import peewee

from cockpit.data.data_service import DataService
from cockpit.data.engine_store import set_state
from cockpit.db.models import IngestionRun
from cockpit.domain.settings import Config

KEY = "venue"
IMPORT = "import"
VENUES = ("sim", "okx-demo", "okx-live", IMPORT)
WHAT = {
    "sim": "the built-in simulator's market",
    "okx-demo": "OKX demo trading",
    "okx-live": "OKX live trading",
    IMPORT: "candles imported from CSV files",
}


class VenueMismatch(RuntimeError):
    """This database belongs to another venue; ``str()`` says which and what to do."""


def _sources_venues(db: peewee.Database) -> set[str]:
    """Venues named by the successful ingestion runs of a database written before the record."""
    found = set()
    runs = (
        IngestionRun.select(IngestionRun.source)
        .distinct()
        .where((IngestionRun.status == "success") & (peewee.fn.COALESCE(IngestionRun.rows_inserted, 0) > 0))
    )
    for (source,) in db.execute(runs).fetchall():
        head = str(source or "").split(":", 1)[0]
        if head == "csv":
            found.add(IMPORT)
        elif head in VENUES:
            found.add(head)
    return found


def database_venues(db: peewee.Database) -> set[str]:
    """The recorded venue ({} for a new database); for an older database, every venue its data came from."""
    raw = DataService(db).engine_state(KEY)
    if raw:
        try:
            v = json.loads(raw)
            return {v["venue"] if isinstance(v, dict) else str(v)}
        except (ValueError, KeyError, TypeError):
            return {raw}
    return _sources_venues(db)


def venue_of(cfg: Config) -> str:
    return cfg["exchange"]["mode"]


def _advice(have: str, want: str, url: str) -> str:
    if want == IMPORT:
        return (
            "Import into a database of its own, e.g. `cockpit --db data/cockpit-import.db ingest --csv FILE ...`, "
            "and pass the same --db to `backtest`, `train` and `db stats`"
        )
    if have == IMPORT and want == "sim":
        return (
            "To trade the simulator on these candles, replay the file in it, on a database of its own: "
            "`COCKPIT__SIM__REPLAY_CSV=FILE cockpit --db data/cockpit-replay.db` (and COCKPIT__SIM__FUNDING_CSV "
            "for its funding). To run the generated simulator, give it another database "
            "(`cockpit --db data/cockpit-sim-generated.db`), or keep imports in one of their own "
            "(`cockpit --db data/cockpit-import.db ingest ...`). Backtests and training read the imported "
            "candles where they are"
        )
    return (
        f"Use the {want} database (`--db data/cockpit-{want}.db`, the default when database.url is not set) or "
        f"set exchange.mode back to {have}"
    )


def claim_venue(
    db: peewee.Database, want: str, *, now_ms: int, url: str = "", action: str = "", record: bool = True
) -> None:
    """Record ``want`` as this database's venue (unless ``record`` is False: check only), or raise
    VenueMismatch when it belongs to another."""
    if want not in VENUES:
        raise ValueError(f"venue: expected one of {', '.join(VENUES)}, got {want!r}")
    action = action or f"start the {want} engine on it"
    have = database_venues(db)
    where = f"the database {url}" if url else "this database"
    if len(have) > 1:
        raise VenueMismatch(
            f"{where} already mixes data of several venues ({'; '.join(WHAT[v] for v in sorted(have))}); "
            f"refusing to {action}: use a new database for {want} (--db FILE)"
        )
    if have and want not in have:
        h = next(iter(have))
        raise VenueMismatch(
            f"{where} belongs to venue {h!r} ({WHAT.get(h, h)}); refusing to {action}: that would "
            f"mix {WHAT[want]} with it in one chart and ledger. {_advice(h, want, url)}."
        )
    if record and DataService(db).engine_state(KEY) is None:
        set_state(KEY, {"venue": want, "since": int(now_ms)}, now_ms=now_ms, db=db)


def venue_refusal(db: peewee.Database, cfg: Config, venue: str, *, action: str, record: bool = True) -> str | None:
    """None when this database may take data of ``venue`` (recorded as its venue when ``record`` and none is
    yet); else the reason it may not (VenueMismatch's text). For everything that writes market data into a
    database outside the engine's start: CSV and exchange ingest, and gap repair from the CLI or the UI."""
    from cockpit.domain.clock import WallClock

    try:
        claim_venue(db, venue, now_ms=WallClock().now_ms(), url=cfg["database"]["url"], action=action, record=record)
    except VenueMismatch as e:
        return str(e)
    return None
