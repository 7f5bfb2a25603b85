"""Everything dabench keeps on disk: paths, atomic writes, cached artifacts, run folders and their index,
the run lock, checkpoints, the run log."""
