"""Sweeps: plan the runs (and their search points), execute them through a launcher, track their state."""
