"""rexbert data stage."""
