"""cockpit.decision"""
