"""rexbert release stage."""
