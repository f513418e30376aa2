"""Observations reduced to their change points: the SQL the keys use and the Python the
pages use find the same ones."""

from __future__ import annotations

from datetime import timedelta

from monitor import store
from monitor.report import values
from tests import synthetic_db


def test_sql_and_python_find_the_same_change_points(tmp_path):
    db = store.open_db(tmp_path / "monitor.db")
    db.execute("INSERT INTO works (id, doi, added_at) VALUES (1, '10.5555/a', ?)", [store.iso(synthetic_db.START)])
    # openalex: 5, 5, 6, error, 6, 5 (back to an earlier value), 5 with other metrics
    answers = [("ok", "", 5, {}), ("ok", "", 5, {}), ("ok", "", 6, {}), ("error", "HTTP 503", None, {}),
               ("ok", "", 6, {}), ("ok", "", 5, {}), ("ok", "", 5, {"fwci": 1.5})]
    for day, (outcome, message, citations, metrics) in enumerate(answers):
        when = synthetic_db.START + timedelta(days=day)
        run = db.execute("INSERT INTO runs (started_at, finished_at, status, exit_code) VALUES (?, ?, 'ok', 0)",
                         [store.iso(when), store.iso(when)]).lastrowid
        for source in ("openalex", "crossref"):  # crossref: the same answer every day
            db.execute(
                "INSERT INTO observations (run_id, work_id, source, observed_at, outcome, message, citations, "
                "metrics_id) VALUES (?, 1, ?, ?, ?, ?, ?, ?)",
                [run, source, store.iso(when), *((outcome, message, citations, store.save_payload(db, metrics))
                                                  if source == "openalex" else ("ok", "", 9, None))])
    by_sql = {(r["source"], r["id"]) for r in db.query(f"SELECT * FROM ({values.CHANGE_POINTS}) WHERE changed")}
    rows = store.observation_history(db, "10.5555/a")
    by_python = {(o["source"], o["id"]) for source in ("openalex", "crossref")
                 for o in values.change_points([r for r in rows if r["source"] == source])}
    assert by_sql == by_python
    days = {source: [rows.index(r) // 2 for r in rows if (source, r["id"]) in by_python]
            for source in ("openalex", "crossref")}
    assert days == {"openalex": [0, 2, 3, 4, 5, 6], "crossref": [0]}
    lasts = {r["source"]: r["previous_run"] for r in db.query(f"SELECT * FROM ({values.CHANGE_POINTS}) WHERE last")}
    assert lasts == {"openalex": len(answers) - 1, "crossref": len(answers) - 1}
