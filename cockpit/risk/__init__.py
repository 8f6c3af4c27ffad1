"""Risk: hard limits every order intent passes before approval, plus the kill switch."""

from cockpit.risk.manager import MarketState, RiskLimits, RiskManager, RiskResult, RULES
from cockpit.risk.state import MemoryRiskState, RiskState

__all__ = ["MarketState", "RiskLimits", "RiskManager", "RiskResult", "RULES", "MemoryRiskState", "RiskState"]
