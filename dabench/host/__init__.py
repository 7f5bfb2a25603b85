"""The plugin host: loading entry points and the registry of what they registered."""
