"""The pair's status as one JSON object: built from the agent's state and what it reads."""
