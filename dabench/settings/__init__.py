"""A run's settings: the config keys, their defaults and checks, and the stage recipes."""
