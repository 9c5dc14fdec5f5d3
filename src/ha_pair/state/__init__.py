"""The pair's state as pure data, shared by the agent (which keeps it) and status (which shows it):
the state machine fed by keepalived's events (pair.py) and what the probes saw (observed.py)."""
