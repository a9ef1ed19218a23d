"""rexbert sources stage."""
