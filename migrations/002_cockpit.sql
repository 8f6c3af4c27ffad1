-- 002_cockpit: what the cockpit needs beyond the seed schema. Only additions: no seed column
-- or table is changed, so 001 stays the seed's schema verbatim.

-- Orders: link to the decision, attached stop/take-profit, fills, approval and its expiry.
ALTER TABLE orders ADD COLUMN decision_id INTEGER REFERENCES decisions(id);
ALTER TABLE orders ADD COLUMN leg INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN reduce_only INTEGER NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN stop_loss NUMERIC;
ALTER TABLE orders ADD COLUMN take_profit NUMERIC;
ALTER TABLE orders ADD COLUMN filled NUMERIC NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN average_price NUMERIC;
ALTER TABLE orders ADD COLUMN fee NUMERIC NOT NULL DEFAULT 0;
ALTER TABLE orders ADD COLUMN mode TEXT;
ALTER TABLE orders ADD COLUMN expires_at INTEGER;
ALTER TABLE orders ADD COLUMN decided_by TEXT;
ALTER TABLE orders ADD COLUMN decided_at INTEGER;
ALTER TABLE orders ADD COLUMN reason TEXT;
ALTER TABLE orders ADD COLUMN risk_assessment TEXT;
-- A retried submit can never create a second order: one row per client order id.
CREATE UNIQUE INDEX idx_orders_client_order_id ON orders(client_order_id);
CREATE INDEX idx_orders_status ON orders(status);

-- Fills are recorded once: the exchange's trade id is unique per order.
ALTER TABLE trades ADD COLUMN exchange_trade_id TEXT;
CREATE UNIQUE INDEX idx_trades_order_exchange_trade ON trades(order_id, exchange_trade_id);

-- Decisions: regime, which selector produced them, per-strategy weights (JSON), fallback reason.
ALTER TABLE decisions ADD COLUMN regime TEXT;
ALTER TABLE decisions ADD COLUMN selector TEXT;
ALTER TABLE decisions ADD COLUMN fallback_reason TEXT;
ALTER TABLE decisions ADD COLUMN weights TEXT;
ALTER TABLE decisions ADD COLUMN target_exposure REAL;

-- LLM runs: the model asked, token counts (spending guard), and the error when there was one.
ALTER TABLE llm_runs ADD COLUMN model TEXT;
ALTER TABLE llm_runs ADD COLUMN prompt_tokens INTEGER;
ALTER TABLE llm_runs ADD COLUMN completion_tokens INTEGER;
ALTER TABLE llm_runs ADD COLUMN error TEXT;
CREATE INDEX idx_llm_runs_timestamp ON llm_runs(timestamp DESC);

-- Prompt versions are drafts until a person publishes them.
ALTER TABLE prompt_versions ADD COLUMN status TEXT NOT NULL DEFAULT 'published';

-- Backtests: what ran and every metric, beyond the seed's headline columns.
ALTER TABLE backtest_configs ADD COLUMN strategy TEXT;
ALTER TABLE backtest_configs ADD COLUMN slippage_bps NUMERIC;
ALTER TABLE backtest_configs ADD COLUMN leverage NUMERIC;
ALTER TABLE backtest_results ADD COLUMN status TEXT;
ALTER TABLE backtest_results ADD COLUMN metrics TEXT;
ALTER TABLE backtest_orders ADD COLUMN reason TEXT;
ALTER TABLE backtest_orders ADD COLUMN funding NUMERIC;

-- Commands from operators (TUI in attach mode, `cockpit orders approve`, the API) that the
-- engine executes: approve / reject / cancel / kill / clear_kill.
CREATE TABLE operator_commands (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    timestamp INTEGER NOT NULL,
    command TEXT NOT NULL,
    order_id INTEGER REFERENCES orders(id),
    payload TEXT,
    operator TEXT,
    status TEXT NOT NULL DEFAULT 'pending',
    processed_at INTEGER,
    result TEXT
);
CREATE INDEX idx_operator_commands_status ON operator_commands(status, id);

-- Small persistent engine state: kill switch, heartbeat, the single-instance lock.
CREATE TABLE engine_state (
    key TEXT PRIMARY KEY,
    value TEXT,
    updated_at INTEGER NOT NULL
);

-- Strategy score table per regime, published by offline training and read by the scorer.
CREATE TABLE strategy_scores (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    version TEXT NOT NULL,
    strategy TEXT NOT NULL,
    regime TEXT NOT NULL,
    expected_reward NUMERIC NOT NULL,
    uncertainty NUMERIC,
    samples INTEGER NOT NULL DEFAULT 0,
    status TEXT NOT NULL DEFAULT 'draft',
    created_at INTEGER DEFAULT (strftime('%s', 'now')),
    UNIQUE(version, strategy, regime)
);
