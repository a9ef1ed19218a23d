"""rexbert evaluate stage."""
