"""Experiment declarations, one per stylised fact (run with `retailsim experiment NAME`)."""
