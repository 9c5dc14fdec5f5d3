"""`ha-pair` subcommands, one module per family; each function returns the exit status."""
