"""What an operator does to the running pair: handover, maintenance mode."""
