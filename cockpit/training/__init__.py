"""cockpit.training"""
