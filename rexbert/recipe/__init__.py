"""rexbert recipe stage."""
