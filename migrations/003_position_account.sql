-- 003_position_account: what the exchange says about the open position beyond size and price, for the
-- cockpit's position line and the closed-trades list. Only additions.

-- OKX positions: funding settled on the position since it opened (fundingFee; negative = paid) and the
-- margin ratio (maintenance margin / collateral, as ccxt reports it). NULL when the venue does not say.
ALTER TABLE position_snapshots ADD COLUMN funding_fee NUMERIC;
ALTER TABLE position_snapshots ADD COLUMN margin_ratio NUMERIC;
