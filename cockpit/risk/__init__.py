"""cockpit.risk"""
