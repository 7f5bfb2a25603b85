"""Split rule files (package data) for datasets without an official split; see dabench.data.splits."""
