"""cockpit.decision: the LLM strategy selector, the strategy scorer and the portfolio scheduler.

Public entry::

    engine = PortfolioDecisionEngine(cfg, ds, DecisionStore(db, secrets=secret_values(cfg)), clock, llm=None)
    decision = engine.decide(signals, ta_report, regime, account, position)   # -> Decision (row written)
    engine.last_decision_id                                                   # the decisions row id

``cockpit.decision.llm`` (the only module importing ``openai``) is imported lazily, when an LLM
is configured.
"""

from cockpit.decision.engine import DecisionEngine, LLMSelector, PortfolioDecisionEngine
from cockpit.decision.prompts import DEFAULT_TEMPLATE, PromptBuilder, PromptError
from cockpit.decision.scoring import PortfolioScheduler, StrategyScore, StrategyScorer, net_exposure
from cockpit.decision.validate import ReplyRejected, Selection, validate_reply

__all__ = [
    "DecisionEngine",
    "PortfolioDecisionEngine",
    "LLMSelector",
    "PromptBuilder",
    "PromptError",
    "DEFAULT_TEMPLATE",
    "PortfolioScheduler",
    "StrategyScore",
    "StrategyScorer",
    "net_exposure",
    "ReplyRejected",
    "Selection",
    "validate_reply",
]
