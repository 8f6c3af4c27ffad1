"""The held-out verdict's words: a baseline beaten while losing money is no win, and a best single
strategy that made no trade is no baseline. Figures are given, nothing is run or tuned."""

from __future__ import annotations

from cockpit.training.evaluation import verdict


def _p(ret: float, sharpe: float | None, dd: float = -0.1, trades: int = 10) -> dict:
    return {"total_return": ret, "sharpe": sharpe, "max_drawdown": dd, "trades": trades, "label": ""}


def _policies(cand: dict, eqw: dict, best: dict | None = None) -> dict:
    out = {"candidate": cand, "buy_and_hold": _p(0.05, 0.4), "cash": _p(0.0, None, 0.0, 0), "equal_weights": eqw}
    if best is not None:
        out["best_single"] = best
    return out


def test_ahead_of_equal_weights_while_losing_money_is_not_a_win():
    v = verdict(_policies(_p(-0.185, -0.6), _p(-0.30, -1.1)), {}, None, max_drawdown=0.5)
    assert v["beats_equal_weights"] is False and v["beats_cash"] is False
    assert "ahead of equal weights (return -30.0%, Sharpe -1.10) but NOT a win: it lost to cash (0%)" in v["summary"]
    assert "beats equal weights" not in v["summary"]


def test_beating_equal_weights_and_cash_says_so():
    v = verdict(_policies(_p(0.12, 0.9), _p(0.03, 0.2)), {}, None, max_drawdown=0.5)
    assert v["beats_equal_weights"] is True and "beats equal weights (return +3.0%" in v["summary"]
    v = verdict(_policies(_p(0.01, 0.1), _p(0.03, 0.2)), {}, None, max_drawdown=0.5)
    assert v["beats_equal_weights"] is False and "does NOT beat equal weights" in v["summary"]


def test_a_best_single_that_never_traded_is_no_baseline_and_a_losing_best_sharpe_says_cash_did_better():
    v = verdict(
        _policies(_p(-0.185, -0.6), _p(-0.30, -1.1), best=_p(0.0, None, 0.0, trades=0)), {}, None, max_drawdown=0.5
    )
    assert "the best single strategy of training made no trade in this period: no baseline here" in v["summary"]
    assert v["best_within_drawdown"] == "buy_and_hold"
    v = verdict(
        {"candidate": _p(-0.185, -0.6), "equal_weights": _p(-0.3, -1.1), "cash": _p(0.0, None, 0.0, 0)},
        {},
        None,
        max_drawdown=0.5,
    )
    assert "best Sharpe within the drawdown limit: candidate, yet it lost -18.5%: cash did better" in v["summary"]


def test_format_report_marks_a_best_single_without_trades():
    from cockpit.commands.train import format_report

    pol = {
        k: dict(v, cagr=None, sharpe_ci90=None, turnover_per_year=0.0, fees=0.0, funding=0.0, exposure=0.0, label=k)
        for k, v in _policies(_p(0.1, 0.5), _p(0.0, 0.1), best=_p(0.0, None, 0.0, 0)).items()
    }
    r = {
        "period": {"from": "2026-01-01", "to": "2026-03-01", "bars": 60, "timeframe": "1d"},
        "train_period": {"from": "2025-01-01", "to": "2025-12-31"},
        "policies": pol,
        "verdict": verdict(pol, {}, None, max_drawdown=0.5),
        "params_changed_since_training": [],
    }
    text = format_report("v1", r)
    assert "best_single: best_single (made no trade in this period)" in text
