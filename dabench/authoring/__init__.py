"""For plugin authors: the scaffold, its templates, and the helpers the docs list."""
