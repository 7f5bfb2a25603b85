"""Launchers run a sweep's unfinished runs: ``local`` (this process or a pool of worker processes,
one per GPU) and ``ray`` (Ray tasks over one machine or a cluster)."""
