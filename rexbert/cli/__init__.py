"""The `rexbert` command line: one subcommand per stage, one error style for all of them."""
