"""What makes the scripts safe to run, and teaches nothing of the report: the command line,
the data files, files written whole, checkpoints, the Optuna storage and figures. One
module a topic; the lessons import it, it imports no lesson."""
