"""cockpit.indicators"""
