"""Built-in label-free validators (model-selection criteria), one per module."""
