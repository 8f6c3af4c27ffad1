"""Account state of the simulated exchange: the instrument, orders, algo orders, fills, positions.

Plain dataclasses (so the whole exchange can be saved to a JSON state file) plus the position
arithmetic of a linear USDT-margined swap in net (one-way) mode.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

INST_ID = "BTC-USDT-SWAP"
INST_FAMILY = "BTC-USDT"
INST_ID_CODE = 10459  # OKX's numeric instrument code (instruments' instIdCode; WebSocket order entry takes it)
CT_VAL = 0.01  # BTC per contract, as on OKX
TICK_SZ = 0.1
LOT_SZ = 0.01
MIN_SZ = 0.01
MAX_LEVER = 100
TAKER_FEE = 0.0005
MAKER_FEE = 0.0002
MMR = 0.004  # maintenance margin rate
CCY = "USDT"


def lots(x: float) -> float:
    """Round a size to the lot (0.01 contracts)."""
    return round(round(x / LOT_SZ) * LOT_SZ, 2)


@dataclass
class Order:
    ord_id: str
    cl_ord_id: str
    tag: str
    side: str  # buy | sell
    ord_type: str  # market | limit | post_only | ioc | fok | optimal_limit_ioc
    px: float | None
    sz: float
    td_mode: str  # isolated | cross
    reduce_only: bool
    c_time: int
    lever: float
    state: str = "live"  # live | partially_filled | filled | canceled
    acc_fill_sz: float = 0.0
    avg_px: float = 0.0
    fee: float = 0.0  # OKX sign: negative = charged
    pnl: float = 0.0
    u_time: int = 0
    fill_time: int = 0
    fill_px: float = 0.0
    fill_sz: float = 0.0
    trade_id: str = ""
    exec_type: str = ""
    category: str = "normal"
    cancel_source: str = ""
    attach: list[dict[str, Any]] = field(default_factory=list)
    attached_algo_ids: list[str] = field(default_factory=list)
    source_algo_id: str = ""
    pos_side: str = "net"  # net | long | short (long/short position mode)

    @property
    def remaining(self) -> float:
        return lots(self.sz - self.acc_fill_sz)

    @property
    def is_open(self) -> bool:
        return self.state in ("live", "partially_filled")


@dataclass
class AlgoOrder:
    algo_id: str
    algo_cl_ord_id: str
    ord_type: str  # conditional | oco | trigger | move_order_stop
    side: str
    sz: float
    td_mode: str
    c_time: int
    sl_trigger_px: float | None = None
    sl_ord_px: float | None = None  # -1 = market
    tp_trigger_px: float | None = None
    tp_ord_px: float | None = None
    reduce_only: bool = True
    close_fraction: str = ""
    state: str = "live"  # live | effective | canceled | order_failed
    u_time: int = 0
    trigger_time: int = 0
    ord_id: str = ""  # the order it placed when triggered
    parent_ord_id: str = ""  # the order it is attached to
    actual_side: str = ""  # "sl" or "tp" once triggered
    trigger_px: float | None = None  # trigger orders
    order_px: float | None = None  # trigger orders: -1 = market
    trigger_up: bool = True  # trigger orders: fires when the price rises to trigger_px
    trigger_px_type: str = "last"  # trigger orders' triggerPxType: last | index | mark
    sl_px_type: str = "last"  # slTriggerPxType / tpTriggerPxType: last | index | mark
    tp_px_type: str = "last"
    callback_ratio: float | None = None  # move_order_stop (trailing stop)
    callback_spread: float | None = None
    active_px: float | None = None
    extreme: float | None = None  # trailing: best price since activation (None: not active yet)
    pos_side: str = "net"

    @property
    def closes_with_position(self) -> bool:
        """Attached TP/SL and close-position (closeFraction) orders are cancelled when the position is flat."""
        return bool(self.parent_ord_id or self.close_fraction)


@dataclass
class Fill:
    trade_id: str
    bill_id: str
    ord_id: str
    cl_ord_id: str
    tag: str
    side: str
    fill_px: float
    fill_sz: float
    exec_type: str  # T | M
    fee: float  # negative = charged
    fill_pnl: float
    ts: int
    td_mode: str


@dataclass
class Position:
    mgn_mode: str
    lever: float
    pos: float = 0.0  # signed contracts
    avg_px: float = 0.0
    margin: float = 0.0  # isolated margin
    realized_pnl: float = 0.0
    fee: float = 0.0
    funding_fee: float = 0.0
    pos_id: str = ""
    c_time: int = 0
    u_time: int = 0
    pos_side: str = "net"
    open_max_pos: float = 0.0  # for positions-history
    close_total_pos: float = 0.0
    close_avg_px: float = 0.0
    close_pnl: float = 0.0

    def notional(self, price: float) -> float:
        return abs(self.pos) * CT_VAL * price

    def upl(self, price: float) -> float:
        return self.pos * CT_VAL * (price - self.avg_px)

    def imr(self, price: float) -> float:
        return self.notional(price) / self.lever if self.lever else 0.0

    def liq_px(self, cash: float) -> float | None:
        """Price where equity behind the position falls to maintenance margin (isolated: its margin;
        cross: the wallet)."""
        q = abs(self.pos) * CT_VAL
        if q <= 0:
            return None
        collateral = self.margin if self.mgn_mode == "isolated" else cash
        if self.pos > 0:
            px = (self.avg_px * q - collateral) / (q * (1 - MMR))
        else:
            px = (collateral + self.avg_px * q) / (q * (1 + MMR))
        return round(px, 1) if px > 0 else None


@dataclass
class Bill:
    bill_id: str
    ts: int
    type: str  # trade | funding | liquidation | margin
    bal_chg: float
    note: str = ""
    sub_type: str = ""  # OKX bill subType
    bal: float = 0.0  # cash balance after the bill
    pnl: float = 0.0
    fee: float = 0.0  # negative = charged
    sz: float = 0.0
    px: float = 0.0
    ord_id: str = ""
    trade_id: str = ""
    exec_type: str = ""
    mgn_mode: str = ""
    pos_bal_chg: float = 0.0  # isolated margin moved into (+) or out of (-) the position


def to_jsonable(obj: Any) -> Any:
    if isinstance(obj, list):
        return [to_jsonable(x) for x in obj]
    if isinstance(obj, dict):
        return {k: to_jsonable(v) for k, v in obj.items()}
    if hasattr(obj, "__dataclass_fields__"):
        return asdict(obj)
    return obj
