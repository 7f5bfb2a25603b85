"""Reports beyond the leaderboard (``dabench/report/leaderboard.py``): model selection, per-class results,
plots and exports, all computed from finished run records."""
