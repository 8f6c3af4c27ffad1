"""cockpit.strategies"""
