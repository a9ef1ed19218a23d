"""rexbert train stage."""
