"""rexbert curate stage."""
